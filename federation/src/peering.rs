//! What travels between the roots of two trees that peer (异地通办 across
//! trees), and how it is encoded.
//!
//! A peering is its own QUIC connection with mutual TLS under its own ALPN
//! ([`PEERING_ALPN`]): the dialing root sends its [`PeerMessage::Offer`],
//! the listening root answers with its own, and the dialer then hands
//! across the cases it holds for the other tree, one [`PeerMessage::Hand`]
//! each, which the listener answers with an [`PeerMessage::Ack`] once the
//! case is durable on its side (or a [`PeerMessage::Refused`]). Each root
//! dials the other, so each sends its own cases on the connection it
//! opened.
//!
//! A frame's payload is a protocol byte ([`PEERING_VERSION`]) followed by a
//! Protocol Buffers message (prost), as on a link. An offer and a hand are
//! signed by the sending root over the exact bytes that travel (the
//! receiver checks the signature before it decodes what is inside). This
//! module knows nothing of matters or cases: an offer is text, a record is
//! bytes.

use prost::Message as _;

/// The ALPN protocol name of a peering connection.
pub const PEERING_ALPN: &[u8] = b"onewindow-peering/1";

/// The first byte of every peering frame.
pub const PEERING_VERSION: u8 = 1;

/// Most records one hand may carry.
pub const MAX_RECORDS: usize = 10_000;

/// Longest id or code in a message (bytes).
const MAX_NAME: usize = 256;

/// Longest message text (bytes).
const MAX_TEXT: usize = 4096;

/// One message between two peering roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMessage {
    /// The sender's offer (its matters open for cross-district handling and
    /// its halls, as JSON text) and the sender's signature over it (hex).
    Offer {
        /// The offer's bytes, exactly as signed.
        offer: Vec<u8>,
        /// The sending root's Ed25519 signature over `offer`, hex.
        signature: String,
    },
    /// A case handed across: a [`Hand`] encoded ([`Hand::encode`]) and the
    /// sending root's signature over those bytes.
    Hand {
        /// The encoded [`Hand`], exactly as signed.
        body: Vec<u8>,
        /// The sending root's Ed25519 signature over `body`, hex.
        signature: String,
    },
    /// The case is durable at the receiver, up to `version`.
    Ack {
        /// Case number.
        case_id: String,
        /// The last version the hand carried.
        version: u64,
    },
    /// The receiver will not take the case (a stable code and a message).
    Refused {
        /// Case number.
        case_id: String,
        /// The last version the hand carried.
        version: u64,
        /// Stable code.
        code: String,
        /// What was wrong.
        message: String,
    },
}

/// The records of one case handed from one tree's root to another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hand {
    /// The sending root.
    pub from: String,
    /// The receiving root.
    pub to: String,
    /// Case number.
    pub case_id: String,
    /// The records the receiving tree lacks, in order.
    pub records: Vec<Carried>,
}

/// One record of a case as its writer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// The hall that wrote it.
    pub origin: String,
    /// Its body, as the writer's log holds it.
    pub body: Vec<u8>,
    /// Its personal section (empty when it has none).
    pub personal: Vec<u8>,
}

/// A peering frame that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeeringWireError {
    /// No byte at all.
    #[error("an empty peering frame")]
    Empty,
    /// Another protocol byte.
    #[error("the peer speaks peering version {0}, this root {PEERING_VERSION}")]
    Version(u8),
    /// Not a message of this protocol.
    #[error("a malformed peering message: {0}")]
    Malformed(String),
    /// Over a bound.
    #[error("{what} is longer than {max}")]
    TooLong {
        /// What.
        what: &'static str,
        /// The bound.
        max: usize,
    },
}

mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Frame {
        #[prost(oneof = "Msg", tags = "51, 52, 53, 54")]
        pub msg: Option<Msg>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Msg {
        #[prost(message, tag = "51")]
        Offer(Signed),
        #[prost(message, tag = "52")]
        Hand(Signed),
        #[prost(message, tag = "53")]
        Ack(Ack),
        #[prost(message, tag = "54")]
        Refused(Refused),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Signed {
        #[prost(bytes = "vec", tag = "51")]
        pub body: Vec<u8>,
        #[prost(string, tag = "52")]
        pub signature: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Ack {
        #[prost(string, tag = "51")]
        pub case_id: String,
        #[prost(uint64, tag = "52")]
        pub version: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Refused {
        #[prost(string, tag = "51")]
        pub case_id: String,
        #[prost(uint64, tag = "52")]
        pub version: u64,
        #[prost(string, tag = "53")]
        pub code: String,
        #[prost(string, tag = "54")]
        pub message: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Hand {
        #[prost(string, tag = "51")]
        pub from: String,
        #[prost(string, tag = "52")]
        pub to: String,
        #[prost(string, tag = "53")]
        pub case_id: String,
        #[prost(message, repeated, tag = "54")]
        pub records: Vec<Carried>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Carried {
        #[prost(string, tag = "51")]
        pub origin: String,
        #[prost(bytes = "vec", tag = "52")]
        pub body: Vec<u8>,
        #[prost(bytes = "vec", tag = "53")]
        pub personal: Vec<u8>,
    }
}

fn bounded(what: &'static str, s: &str, max: usize) -> Result<(), PeeringWireError> {
    if s.len() > max {
        return Err(PeeringWireError::TooLong { what, max });
    }
    Ok(())
}

impl PeerMessage {
    /// The frame payload: protocol byte, then the message.
    pub fn encode(&self) -> Vec<u8> {
        let msg = match self {
            Self::Offer { offer, signature } => pb::Msg::Offer(pb::Signed {
                body: offer.clone(),
                signature: signature.clone(),
            }),
            Self::Hand { body, signature } => pb::Msg::Hand(pb::Signed {
                body: body.clone(),
                signature: signature.clone(),
            }),
            Self::Ack { case_id, version } => pb::Msg::Ack(pb::Ack {
                case_id: case_id.clone(),
                version: *version,
            }),
            Self::Refused {
                case_id,
                version,
                code,
                message,
            } => pb::Msg::Refused(pb::Refused {
                case_id: case_id.clone(),
                version: *version,
                code: code.clone(),
                message: message.clone(),
            }),
        };
        let frame = pb::Frame { msg: Some(msg) };
        let mut out = Vec::with_capacity(frame.encoded_len() + 1);
        out.push(PEERING_VERSION);
        frame.encode_raw(&mut out);
        out
    }

    /// Reads a frame payload, every bound checked.
    pub fn decode(payload: &[u8]) -> Result<Self, PeeringWireError> {
        let (&version, rest) = payload.split_first().ok_or(PeeringWireError::Empty)?;
        if version != PEERING_VERSION {
            return Err(PeeringWireError::Version(version));
        }
        let frame =
            pb::Frame::decode(rest).map_err(|e| PeeringWireError::Malformed(e.to_string()))?;
        let msg = frame
            .msg
            .ok_or_else(|| PeeringWireError::Malformed("no message".into()))?;
        Ok(match msg {
            pb::Msg::Offer(s) => {
                bounded("a signature", &s.signature, MAX_NAME)?;
                Self::Offer {
                    offer: s.body,
                    signature: s.signature,
                }
            }
            pb::Msg::Hand(s) => {
                bounded("a signature", &s.signature, MAX_NAME)?;
                Self::Hand {
                    body: s.body,
                    signature: s.signature,
                }
            }
            pb::Msg::Ack(a) => {
                bounded("a case number", &a.case_id, MAX_NAME)?;
                Self::Ack {
                    case_id: a.case_id,
                    version: a.version,
                }
            }
            pb::Msg::Refused(r) => {
                bounded("a case number", &r.case_id, MAX_NAME)?;
                bounded("a refusal's code", &r.code, MAX_NAME)?;
                bounded("a refusal's message", &r.message, MAX_TEXT)?;
                Self::Refused {
                    case_id: r.case_id,
                    version: r.version,
                    code: r.code,
                    message: r.message,
                }
            }
        })
    }
}

impl Hand {
    /// The bytes the sending root signs and sends.
    pub fn encode(&self) -> Vec<u8> {
        pb::Hand {
            from: self.from.clone(),
            to: self.to.clone(),
            case_id: self.case_id.clone(),
            records: self
                .records
                .iter()
                .map(|r| pb::Carried {
                    origin: r.origin.clone(),
                    body: r.body.clone(),
                    personal: r.personal.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Reads the bytes of [`Hand::encode`] (after their signature is
    /// checked), every bound checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeeringWireError> {
        let h = pb::Hand::decode(bytes).map_err(|e| PeeringWireError::Malformed(e.to_string()))?;
        bounded("a root's id", &h.from, MAX_NAME)?;
        bounded("a root's id", &h.to, MAX_NAME)?;
        bounded("a case number", &h.case_id, MAX_NAME)?;
        if h.records.is_empty() {
            return Err(PeeringWireError::Malformed("a hand with no record".into()));
        }
        if h.records.len() > MAX_RECORDS {
            return Err(PeeringWireError::TooLong {
                what: "a hand's records",
                max: MAX_RECORDS,
            });
        }
        let mut records = Vec::with_capacity(h.records.len());
        for r in h.records {
            bounded("a record's origin", &r.origin, MAX_NAME)?;
            records.push(Carried {
                origin: r.origin,
                body: r.body,
                personal: r.personal,
            });
        }
        Ok(Self {
            from: h.from,
            to: h.to,
            case_id: h.case_id,
            records,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn messages_come_back_as_they_went() {
        let hand = Hand {
            from: "foshan".into(),
            to: "liwan".into(),
            case_id: "H001202611230001X".into(),
            records: vec![Carried {
                origin: "foshan.c1".into(),
                body: vec![2, 1, 2, 3],
                personal: vec![],
            }],
        };
        assert_eq!(Hand::decode(&hand.encode()).unwrap(), hand);
        for m in [
            PeerMessage::Offer {
                offer: b"{}".to_vec(),
                signature: "ab".into(),
            },
            PeerMessage::Hand {
                body: hand.encode(),
                signature: "cd".into(),
            },
            PeerMessage::Ack {
                case_id: "n".into(),
                version: 7,
            },
            PeerMessage::Refused {
                case_id: "n".into(),
                version: 7,
                code: "not_cross_district".into(),
                message: "no".into(),
            },
        ] {
            assert_eq!(PeerMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn what_is_not_a_peering_message_is_refused() {
        assert_eq!(PeerMessage::decode(&[]), Err(PeeringWireError::Empty));
        assert_eq!(
            PeerMessage::decode(&[2, 0]),
            Err(PeeringWireError::Version(2))
        );
        assert!(PeerMessage::decode(&[PEERING_VERSION, 0xff, 0xff]).is_err());
        assert!(Hand::decode(&[]).is_err(), "a hand with no record");
        let long = PeerMessage::Ack {
            case_id: "x".repeat(MAX_NAME + 1),
            version: 1,
        };
        assert!(matches!(
            PeerMessage::decode(&long.encode()),
            Err(PeeringWireError::TooLong { .. })
        ));
    }
}
