//! Uploads into the drop folder (`--upload-dir`, issue 25): the parts that depend on nothing
//! but their input, built and tested first — the names files are stored under ([`name`]) and
//! the reading of a form's `multipart/form-data` body as it arrives ([`multipart`]). The drop
//! folder's writing, the request body's path through the connection and the doors come next;
//! until then no request reaches these.

pub mod multipart;
pub mod name;
