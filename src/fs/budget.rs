//! How much file-system work one request may cause: a count of operations (an open, a `stat`, a
//! link read, a folder entry read) that every lookup of the request draws from.
//!
//! The served folder may be hostile: a listing of thousands of links into long chains of links,
//! say, would otherwise cost millions of calls. Counting operations rather than time keeps the
//! core free of clocks and makes the bound the same on every platform and in every test: a
//! request does at most [`crate::Limits::max_fs_operations`] of them, and what could not be done
//! within that is answered plainly (a link that is not followed, a listing entry not described).

/// Operations left for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    left: usize,
}

/// The budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted;

impl Budget {
    /// A budget of `operations`.
    pub fn new(operations: usize) -> Budget {
        Budget { left: operations }
    }

    /// Takes one operation from the budget, or fails when none is left.
    pub fn charge(&mut self) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(1).ok_or(Exhausted)?;
        Ok(())
    }

    /// Whether no operation is left.
    pub fn is_exhausted(&self) -> bool {
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_empty() {
        let mut budget = Budget::new(2);
        assert_eq!(budget.charge(), Ok(()));
        assert!(!budget.is_exhausted());
        assert_eq!(budget.charge(), Ok(()));
        assert!(budget.is_exhausted());
        assert_eq!(budget.charge(), Err(Exhausted));
    }
}
