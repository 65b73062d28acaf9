//! Websocket termination on actix-web, sized for many idle sockets.
//!
//! [`handle`] answers the upgrade and gives the session a [`Sink`] (frames out) and a
//! [`Stream`] (messages in). Both sides work on actix-http's websocket codec; what they add is
//! that **an idle socket holds no buffer of its own**:
//!
//! - frames go out through a small queue shared with the response body: a write encodes its
//!   frame into the queue's buffer at once and wakes the body, which hands the whole buffer to
//!   the HTTP dispatcher and leaves nothing allocated behind. The queue holds at most
//!   [`QUEUE_FRAMES`] frames; a write waits for room beyond that, so a client that stops reading
//!   stops its session's writes (the session bounds that wait; `session::bounded_write`);
//! - frames come in from the request's payload into a read buffer that is released as soon as
//!   everything in it has been parsed. (The payload's chunks are slices of the dispatcher's read
//!   buffer: a parser that kept an empty slice of one would keep that whole 8 KiB allocation
//!   alive for the life of the socket.) Fragmented messages are put together up to a size limit.
//!
//! All of one connection runs on its HTTP worker's thread (the session task is spawned there),
//! so the shared queue is an `Rc<RefCell<_>>`. ARCHITECTURE.md, "Idle sockets", says why this is
//! ours and not actix-ws (which keeps a 32-slot channel and several buffers per socket).

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::ws::{Codec, Frame, Item, Message, ProtocolError};
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use bytestring::ByteString;
use futures_util::Stream as _;

use crate::protocol::CommandError;

pub use actix_http::ws::{CloseCode, CloseReason};

/// Frames a session may have queued and not yet handed to the dispatcher. (Beyond this the
/// dispatcher's own write buffer, up to 32 KiB, is already full: the client is not reading.)
pub const QUEUE_FRAMES: usize = 32;
/// Control frames carry at most 125 bytes (RFC 6455 §5.5); a close reason 123 after its code.
const MAX_CONTROL_PAYLOAD: usize = 125;
const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// Answers a websocket upgrade: the `101` response to return, the session's way out and its way
/// in. `max_size` bounds one frame and one reassembled message (bytes). A request that is not a
/// valid upgrade is a `bad_request`.
pub fn handle(
    req: &HttpRequest,
    body: Payload,
    max_size: usize,
) -> Result<(HttpResponse, Sink, Stream), CommandError> {
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| CommandError::bad_request(format!("not a websocket upgrade: {e}")))?;
    let queue = Rc::new(RefCell::new(Queue {
        sinks: 1,
        ..Queue::default()
    }));
    let out = Body {
        queue: queue.clone(),
    };
    let response = response
        .message_body(BoxBody::new(out))
        .map_err(|e| CommandError::internal(e.to_string()))?;
    let sink = Sink {
        queue: queue.clone(),
    };
    let stream = Stream {
        payload: body,
        buf: BytesMut::new(),
        codec: Codec::new().max_size(max_size),
        max_size,
        partial: None,
        queue,
        eof: false,
    };
    Ok((response.into(), sink, stream))
}

/// The socket is closed: nothing more can be written to it.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed;

/// What the session and the response body share.
#[derive(Default)]
struct Queue {
    /// Encoded frames not yet taken by the body (no allocation while empty).
    buf: BytesMut,
    /// How many frames `buf` holds.
    frames: usize,
    codec: Codec,
    /// A close frame was queued: nothing more is accepted, and the body ends once it is out.
    closing: bool,
    /// The body was dropped: the connection is over.
    gone: bool,
    /// Live [`Sink`]s; when the last one goes the body ends (the connection closes).
    sinks: usize,
    body_waker: Option<Waker>,
    writer_waker: Option<Waker>,
    reader_waker: Option<Waker>,
}

impl Queue {
    fn wake_body(&mut self) {
        if let Some(w) = self.body_waker.take() {
            w.wake();
        }
    }
}

/// The session's way out: frames written here reach the client in order. Cloning gives another
/// handle to the same socket. Writes come from one task (the session's), so a full queue keeps
/// one waiting writer's waker.
pub struct Sink {
    queue: Rc<RefCell<Queue>>,
}

impl Clone for Sink {
    fn clone(&self) -> Self {
        self.queue.borrow_mut().sinks += 1;
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let mut q = self.queue.borrow_mut();
        q.sinks -= 1;
        if q.sinks == 0 {
            q.wake_body();
        }
    }
}

impl Sink {
    /// Queues a text frame, waiting while the queue is full.
    pub async fn text(&mut self, text: impl Into<ByteString>) -> Result<(), Closed> {
        self.send(Message::Text(text.into())).await
    }

    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Closed> {
        let n = payload.len().min(MAX_CONTROL_PAYLOAD);
        self.send(Message::Ping(Bytes::copy_from_slice(&payload[..n])))
            .await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        let n = payload.len().min(MAX_CONTROL_PAYLOAD);
        self.send(Message::Pong(Bytes::copy_from_slice(&payload[..n])))
            .await
    }

    /// Queues the close frame; the connection ends once it is out. Later writes fail.
    pub async fn close(mut self, reason: Option<CloseReason>) -> Result<(), Closed> {
        let reason = reason.map(|mut r| {
            if let Some(d) = r.description.as_mut() {
                truncate_at_char(d, MAX_CLOSE_REASON);
            }
            r
        });
        self.send(Message::Close(reason)).await
    }

    async fn send(&mut self, msg: Message) -> Result<(), Closed> {
        let mut msg = Some(msg);
        poll_fn(|cx| {
            let mut q = self.queue.borrow_mut();
            if q.gone || q.closing {
                return Poll::Ready(Err(Closed));
            }
            if q.frames >= QUEUE_FRAMES {
                q.writer_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let Some(msg) = msg.take() else {
                return Poll::Ready(Err(Closed));
            };
            let is_close = matches!(msg, Message::Close(_));
            let q = &mut *q;
            if actix_codec::Encoder::encode(&mut q.codec, msg, &mut q.buf).is_err() {
                return Poll::Ready(Err(Closed));
            }
            q.frames += 1;
            q.closing |= is_close;
            q.wake_body();
            Poll::Ready(Ok(()))
        })
        .await
    }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The response body: whatever the session queued, as it comes.
struct Body {
    queue: Rc<RefCell<Queue>>,
}

impl MessageBody for Body {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let mut q = self.queue.borrow_mut();
        if !q.buf.is_empty() {
            // Taken whole: the queue keeps no allocation between bursts.
            let out = std::mem::take(&mut q.buf).freeze();
            q.frames = 0;
            if let Some(w) = q.writer_waker.take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(out)));
        }
        if q.closing || q.sinks == 0 {
            return Poll::Ready(None);
        }
        q.body_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        let mut q = self.queue.borrow_mut();
        q.gone = true;
        q.buf = BytesMut::new();
        if let Some(w) = q.writer_waker.take() {
            w.wake();
        }
        if let Some(w) = q.reader_waker.take() {
            w.wake();
        }
    }
}

/// A whole message from the client (fragments put together).
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(ByteString),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

/// A fragmented message being put together.
struct Partial {
    text: bool,
    buf: BytesMut,
}

/// The session's way in.
pub struct Stream {
    payload: Payload,
    /// Bytes read and not yet parsed (released whenever everything in it was parsed).
    buf: BytesMut,
    codec: Codec,
    max_size: usize,
    partial: Option<Partial>,
    queue: Rc<RefCell<Queue>>,
    /// The payload ended (or failed, or the connection is gone): nothing more will come.
    eof: bool,
}

impl Stream {
    /// The next message; `None` once the client or the connection is gone. After an error the
    /// stream is not to be read again (the session closes the socket).
    pub async fn recv(&mut self) -> Option<Result<Incoming, ProtocolError>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming, ProtocolError>>> {
        loop {
            match self.parse() {
                Ok(Some(msg)) => return Poll::Ready(Some(Ok(msg))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            if self.buf.is_empty() {
                // Let go of the payload chunk's allocation (see the module's notes).
                self.buf = BytesMut::new();
            }
            if self.eof {
                return Poll::Ready(None);
            }
            {
                let mut q = self.queue.borrow_mut();
                if q.gone {
                    self.eof = true;
                    continue;
                }
                if !q
                    .reader_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    q.reader_waker = Some(cx.waker().clone());
                }
            }
            match Pin::new(&mut self.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if self.buf.is_empty() {
                        self.buf = BytesMut::from(chunk);
                    } else {
                        self.buf.extend_from_slice(&chunk);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.eof = true;
                    return Poll::Ready(Some(Err(ProtocolError::Io(io::Error::other(e)))));
                }
                Poll::Ready(None) => self.eof = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The next whole message in the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        use actix_codec::Decoder;
        while let Some(frame) = self.codec.decode(&mut self.buf)? {
            let msg = match frame {
                Frame::Text(b) => self.whole(true, b)?,
                Frame::Binary(b) => self.whole(false, b)?,
                Frame::Ping(b) => Incoming::Ping(b),
                Frame::Pong(b) => Incoming::Pong(b),
                Frame::Close(r) => Incoming::Close(r),
                Frame::Continuation(item) => match self.fragment(item)? {
                    Some(msg) => msg,
                    None => continue,
                },
            };
            return Ok(Some(msg));
        }
        Ok(None)
    }

    fn whole(&self, text: bool, bytes: Bytes) -> Result<Incoming, ProtocolError> {
        if self.partial.is_some() {
            // A new message inside a fragmented one.
            return Err(ProtocolError::ContinuationStarted);
        }
        finish(text, bytes)
    }

    fn fragment(&mut self, item: Item) -> Result<Option<Incoming>, ProtocolError> {
        let (first, last, bytes) = match item {
            Item::FirstText(b) => (Some(true), false, b),
            Item::FirstBinary(b) => (Some(false), false, b),
            Item::Continue(b) => (None, false, b),
            Item::Last(b) => (None, true, b),
        };
        let mut p = match (first, self.partial.take()) {
            (Some(_), Some(_)) => return Err(ProtocolError::ContinuationStarted),
            (None, None) => return Err(ProtocolError::ContinuationNotStarted),
            (Some(text), None) => Partial {
                text,
                buf: BytesMut::new(),
            },
            (None, Some(p)) => p,
        };
        if p.buf.len() + bytes.len() > self.max_size {
            return Err(ProtocolError::Overflow);
        }
        p.buf.extend_from_slice(&bytes);
        if last {
            return finish(p.text, p.buf.freeze()).map(Some);
        }
        self.partial = Some(p);
        Ok(None)
    }
}

fn finish(text: bool, bytes: Bytes) -> Result<Incoming, ProtocolError> {
    if !text {
        return Ok(Incoming::Binary(bytes));
    }
    ByteString::try_from(bytes)
        .map(Incoming::Text)
        .map_err(|e| ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::OpCode;
    use actix_web::test::TestRequest;
    use futures_util::FutureExt as _;

    /// A client's frame (masked, as clients must).
    fn frame(op: OpCode, fin: bool, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        actix_http::ws::Parser::write_message(&mut out, payload, op, fin, true);
        out.freeze()
    }

    fn upgrade(chunks: Vec<Bytes>) -> (HttpResponse, Sink, Stream) {
        let req = TestRequest::default()
            .insert_header(("upgrade", "websocket"))
            .insert_header(("connection", "upgrade"))
            .insert_header(("sec-websocket-version", "13"))
            .insert_header(("sec-websocket-key", "x3JJHMbDL1EzLkh9GBhXDw=="))
            .to_http_request();
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(Ok::<_, actix_http::error::PayloadError>),
        );
        let payload = Payload::Stream {
            payload: Box::pin(stream) as actix_http::BoxedPayloadStream,
        };
        handle(&req, payload, 1024).expect("a valid upgrade")
    }

    /// The next message, or the error's name; `None` at the end.
    fn next(stream: &mut Stream) -> Option<Result<Incoming, String>> {
        let next = stream.recv().now_or_never();
        next.expect("the payload is all there")
            .map(|r| r.map_err(|e| format!("{e:?}")))
    }

    #[test]
    fn whole_and_fragmented_messages_come_in_order_across_chunks() {
        let mut bytes = BytesMut::new();
        bytes.extend_from_slice(&frame(OpCode::Text, true, b"hello"));
        bytes.extend_from_slice(&frame(OpCode::Text, false, b"fra"));
        bytes.extend_from_slice(&frame(OpCode::Ping, true, b"p"));
        bytes.extend_from_slice(&frame(OpCode::Continue, false, b"gm"));
        bytes.extend_from_slice(&frame(OpCode::Continue, true, b"ents"));
        let all = bytes.freeze();
        // Cut mid-frame: the parser must keep the tail until the rest arrives.
        let (_response, _sink, mut stream) =
            upgrade(vec![all.slice(..4), all.slice(4..9), all.slice(9..)]);
        assert_eq!(next(&mut stream), Some(Ok(Incoming::Text("hello".into()))));
        assert_eq!(
            next(&mut stream),
            Some(Ok(Incoming::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(
            next(&mut stream),
            Some(Ok(Incoming::Text("fragments".into())))
        );
        assert_eq!(next(&mut stream), None);
        assert_eq!(stream.buf.capacity(), 0, "nothing held once parsed");
    }

    #[test]
    fn an_oversized_reassembly_and_a_stray_continuation_are_errors() {
        let big = vec![b'a'; 600];
        let mut bytes = BytesMut::new();
        bytes.extend_from_slice(&frame(OpCode::Text, false, &big));
        bytes.extend_from_slice(&frame(OpCode::Continue, true, &big));
        let (_response, _sink, mut stream) = upgrade(vec![bytes.freeze()]);
        assert_eq!(next(&mut stream), Some(Err("Overflow".into())));

        let (_response, _sink, mut stream) = upgrade(vec![frame(OpCode::Continue, true, b"x")]);
        assert_eq!(
            next(&mut stream),
            Some(Err("ContinuationNotStarted".into()))
        );

        let (_response, _sink, mut stream) =
            upgrade(vec![frame(OpCode::Text, true, &[0xff, 0xfe])]);
        assert!(matches!(next(&mut stream), Some(Err(e)) if e.starts_with("Io(")));
    }

    fn poll_body(body: &mut BoxBody) -> Poll<Option<Bytes>> {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        match Pin::new(body).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(b)),
            Poll::Ready(Some(Err(e))) => panic!("body error: {e}"),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    #[test]
    fn writes_wait_for_room_and_the_close_ends_the_body() {
        let (response, mut sink, _stream) = upgrade(vec![]);
        let mut body = response.into_body();
        assert!(poll_body(&mut body).is_pending());
        for i in 0..QUEUE_FRAMES {
            assert_eq!(sink.text(format!("m{i}")).now_or_never(), Some(Ok(())));
        }
        // The queue is full: the next write waits.
        let mut other = sink.clone();
        let mut blocked = Box::pin(other.text("late"));
        assert!((&mut blocked).now_or_never().is_none());
        let Poll::Ready(Some(out)) = poll_body(&mut body) else {
            panic!("the queued frames come out");
        };
        // 32 unmasked text frames of 2-3 bytes, each with its 2-byte header, in order.
        assert!(out.starts_with(b"\x81\x02m0\x81\x02m1"));
        assert!(out.ends_with(b"\x81\x03m31"));
        assert_eq!(blocked.now_or_never(), Some(Ok(())));
        drop(other);
        assert_eq!(sink.clone().close(None).now_or_never(), Some(Ok(())));
        assert_eq!(sink.text("after").now_or_never(), Some(Err(Closed)));
        let Poll::Ready(Some(out)) = poll_body(&mut body) else {
            panic!("the rest comes out");
        };
        assert_eq!(&out[..], b"\x81\x04late\x88\x00");
        assert_eq!(poll_body(&mut body), Poll::Ready(None));
    }

    #[test]
    fn a_dropped_connection_fails_writes_and_ends_reads() {
        let (response, mut sink, mut stream) = upgrade(vec![]);
        drop(response);
        assert_eq!(sink.text("x").now_or_never(), Some(Err(Closed)));
        assert_eq!(next(&mut stream), None);
    }

    #[test]
    fn the_body_ends_when_the_last_sink_goes() {
        let (response, sink, _stream) = upgrade(vec![]);
        let mut body = response.into_body();
        let other = sink.clone();
        drop(sink);
        assert!(poll_body(&mut body).is_pending());
        drop(other);
        assert_eq!(poll_body(&mut body), Poll::Ready(None));
    }
}
