//! `hhttpp:server/streams`: the core's [`Streams`] exported as a WIT resource, one per HTTP/2
//! connection of the native host.

use std::cell::RefCell;
use std::sync::Arc;

use hhttpp::Now;
use hhttpp::message::{Method, Request, Version};
use hhttpp::responder::compressed_cache::EncodeError;
use hhttpp::streams::{self as core, Streams};

use super::http1::Component;
use super::http1::exports::hhttpp::server::http1::{
    Allowance, Coding, CompressError, FileToCompress, Time,
};
use super::http1::exports::hhttpp::server::streams::{
    Answer, Body, FilePart, Guest, GuestConnection, PullError, Reply, Request as WitRequest,
};
use super::nanos;

impl Guest for Component {
    type Connection = StreamsResource;
}

/// One HTTP/2 connection's streams.
pub struct StreamsResource(RefCell<Streams>);

impl GuestConnection for StreamsResource {
    fn new(config: Vec<u8>, now: Time) -> Self {
        let config = super::http1::config(&config);
        StreamsResource(RefCell::new(Streams::new(Arc::new(config), now.into())))
    }

    fn respond(&self, stream: u32, request: WitRequest, now: Time, allowance: Allowance) -> Answer {
        let request = Request {
            method: Method::from_token(&request.method),
            target: request.target,
            version: Version::Http2,
            headers: request.fields.into_iter().collect(),
        };
        let answer =
            self.0
                .borrow_mut()
                .respond(stream, &request, Now::from(now), allowance.into());
        match answer {
            core::Answer::Reply(reply) => Answer::Reply(reply.into()),
            core::Answer::Encode { file, coding } => Answer::Compress(FileToCompress {
                file: file.file.into_inner(),
                length: file.len,
                coding: Coding::from(coding),
            }),
        }
    }

    fn compressed(
        &self,
        stream: u32,
        body: Result<Vec<u8>, CompressError>,
        now: Time,
    ) -> Option<Reply> {
        let result = body.map_err(EncodeError::from);
        self.0
            .borrow_mut()
            .compressed(stream, result, now.into())
            .map(Reply::from)
    }

    fn pull(&self, stream: u32, max_bytes: u32) -> Result<Vec<u8>, PullError> {
        self.0
            .borrow_mut()
            .pull(stream, max_bytes as usize)
            .map_err(|error| match error {
                core::StreamError::Unknown => PullError::Unknown,
                core::StreamError::Broken => PullError::Broken,
            })
    }

    fn cancel(&self, stream: u32) {
        self.0.borrow_mut().cancel(stream);
    }
}

impl From<core::Reply> for Reply {
    fn from(reply: core::Reply) -> Reply {
        Reply {
            status: reply.status,
            fields: reply.fields,
            body: match reply.body {
                core::Outgoing::Bytes { bytes, more } => Body::Bytes((bytes, more)),
                core::Outgoing::File(file) => Body::File(FilePart {
                    file: file.file.into_inner(),
                    offset: file.offset,
                    length: file.len,
                }),
            },
            exchange: reply.exchange.into(),
            stall_ns: nanos(reply.stall),
            compressing: reply.compressing,
        }
    }
}
