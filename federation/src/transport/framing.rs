//! Length-prefixed frames on a QUIC bidirectional stream.
//!
//! A frame is a `u32` big-endian length followed by that many bytes: the
//! replication protocol's binary messages ([`write_raw_frame`],
//! [`read_raw_frame`]), or JSON for the generic [`FramedStream`].
//! A frame longer than [`MAX_FRAME`] is an error on both sides: the sender
//! stops serializing as soon as the limit is passed, and the receiver refuses
//! the header before allocating anything.

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest frame body, in bytes (16 MiB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Stream error code sent when a frame is refused for its size.
const STOP_FRAME_TOO_LARGE: u32 = 1;

/// What went wrong on a framed stream. After any error the stream's framing
/// is lost: drop the stream.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A message to send serializes to more than the limit.
    #[error("message serializes to more than {max} bytes")]
    MessageTooLarge {
        /// The limit.
        max: usize,
    },
    /// The peer announced a frame longer than the limit.
    #[error("peer announced a frame of {len} bytes, over the {max}-byte limit")]
    FrameTooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// The frame is not the JSON of the expected type (or a message could not
    /// be serialized).
    #[error("frame is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing failed (connection lost, stream stopped by the peer).
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    /// Reading failed (connection lost, stream reset by the peer).
    #[error("read: {0}")]
    Read(#[from] quinn::ReadError),
    /// The sending side was already finished.
    #[error("stream already finished")]
    Finished,
}

/// A bidirectional stream that carries JSON frames both ways.
#[derive(Debug)]
pub struct FramedStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl FramedStream {
    /// Frames the two halves of a quinn bidirectional stream.
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self { send, recv }
    }

    /// Sends one message as one frame.
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), FrameError> {
        write_frame(&mut self.send, msg).await
    }

    /// Receives the next frame; `Ok(None)` when the peer finished its side
    /// cleanly between frames.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        read_frame(&mut self.recv).await
    }

    /// Finishes the sending side: the peer's [`recv`](Self::recv) returns
    /// `Ok(None)` after the frames already sent. Receiving goes on.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        self.send.finish().map_err(|_| FrameError::Finished)
    }

    /// The two quinn halves, to read and write from different tasks with
    /// [`read_frame`] and [`write_frame`].
    pub fn into_parts(self) -> (quinn::SendStream, quinn::RecvStream) {
        (self.send, self.recv)
    }
}

/// Writes one message as one frame on a send half.
pub async fn write_frame<T: Serialize + ?Sized>(
    send: &mut quinn::SendStream,
    msg: &T,
) -> Result<(), FrameError> {
    let frame = encode(msg)?;
    send.write_all(&frame).await?;
    Ok(())
}

/// Reads the next frame from a receive half; `Ok(None)` when the peer
/// finished its side cleanly between frames.
pub async fn read_frame<T: DeserializeOwned>(
    recv: &mut quinn::RecvStream,
) -> Result<Option<T>, FrameError> {
    match read_raw_frame(recv, MAX_FRAME).await? {
        Some(body) => Ok(Some(serde_json::from_slice(&body)?)),
        None => Ok(None),
    }
}

/// Writes one frame whose payload is already encoded.
pub async fn write_raw_frame(
    send: &mut quinn::SendStream,
    payload: &[u8],
) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME {
        return Err(FrameError::MessageTooLarge { max: MAX_FRAME });
    }
    let len = (payload.len() as u32).to_be_bytes();
    send.write_all(&len).await?;
    send.write_all(payload).await?;
    Ok(())
}

/// Where frames are read from: the receive half of a QUIC stream, or bytes
/// handed over in pieces (the fuzz target of the framing, a test).
pub trait FrameSource {
    /// Appends between one and `max` (at least 1) of the stream's next
    /// bytes to `buf`; `Ok(false)`, appending nothing, when the stream has
    /// ended.
    fn read_into(
        &mut self,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> impl std::future::Future<Output = Result<bool, FrameError>> + Send;

    /// Tells the peer to stop sending: a frame was refused for its size and
    /// nothing more will be read.
    fn stop(&mut self) {}
}

impl FrameSource for quinn::RecvStream {
    async fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<bool, FrameError> {
        match self.read_chunk(max, true).await? {
            Some(chunk) => {
                buf.extend_from_slice(&chunk.bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn stop(&mut self) {
        let _ = quinn::RecvStream::stop(self, STOP_FRAME_TOO_LARGE.into());
    }
}

/// Reads the next frame's payload, refusing one announced longer than `max`
/// (at most [`MAX_FRAME`]) before allocating anything; `Ok(None)` when the
/// peer finished its side cleanly between frames.
pub async fn read_raw_frame<S: FrameSource>(
    recv: &mut S,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let max = max.min(MAX_FRAME);
    let mut header = Vec::with_capacity(4);
    while header.len() < 4 {
        let want = 4 - header.len();
        if !recv.read_into(&mut header, want).await? {
            return if header.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
    }
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let len = match usize::try_from(len) {
        Ok(len) if len <= max => len,
        _ => {
            // Nothing more will be read: tell the peer to stop sending.
            recv.stop();
            return Err(FrameError::FrameTooLarge {
                len: u64::from(len),
                max,
            });
        }
    };
    // The buffer grows as the bytes arrive: a peer that announces a large
    // frame and sends nothing makes this node hold nothing.
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    while body.len() < len {
        let want = (len - body.len()).min(READ_CHUNK);
        if !recv.read_into(&mut body, want).await? {
            return Err(FrameError::Truncated);
        }
    }
    Ok(Some(body))
}

/// The most a frame's buffer grows by at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Serializes `msg` into a frame (header and body), giving up as soon as the
/// body passes [`MAX_FRAME`].
fn encode<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = LimitedWriter {
        buf: vec![0u8; 4],
        room: MAX_FRAME,
        overflow: false,
    };
    if let Err(e) = serde_json::to_writer(&mut out, msg) {
        return Err(if out.overflow {
            FrameError::MessageTooLarge { max: MAX_FRAME }
        } else {
            FrameError::Json(e)
        });
    }
    let len = u32::try_from(out.buf.len() - 4)
        .map_err(|_| FrameError::MessageTooLarge { max: MAX_FRAME })?;
    out.buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(out.buf)
}

/// A `Vec` writer that refuses to grow past `room` more bytes.
struct LimitedWriter {
    buf: Vec<u8>,
    room: usize,
    overflow: bool,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() > self.room {
            self.overflow = true;
            return Err(io::Error::other("frame limit exceeded"));
        }
        self.room -= data.len();
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frame_is_big_endian_length_then_json() {
        let frame = encode(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(&frame[..4], &[0, 0, 0, 7]);
        assert_eq!(&frame[4..], br#"{"a":1}"#);
    }

    #[test]
    fn oversized_message_is_refused_while_serializing() {
        let big = "x".repeat(MAX_FRAME);
        assert!(matches!(
            encode(&big),
            Err(FrameError::MessageTooLarge { max: MAX_FRAME })
        ));
        let fits = "x".repeat(MAX_FRAME - 2);
        assert_eq!(encode(&fits).unwrap().len(), MAX_FRAME + 4);
    }
}
