//! The one OTLP/HTTP front door every signal goes through (`/v1/metrics`, `/v1/logs`,
//! `/v1/traces`): the two encodings the spec allows (protobuf, JSON) told apart by content type,
//! gzip bodies decompressed within a limit with every piece charged to the write's admission
//! before it is kept, the export request decoded, and the answer (with its `partial_success`)
//! written in the request's encoding. `resource` turns a resource's attributes into the
//! service identity every signal files its data under. What the data then means is the
//! signal's own business.

pub mod resource;

use crate::admission::AdmissionError;
use std::io::Read;

/// The two encodings OTLP/HTTP allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters such as `charset` ignored).
    pub fn from_content_type(content_type: &str) -> Result<Self, OtlpError> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            other => Err(OtlpError::UnsupportedMedia {
                field: "content-type",
                message: format!(
                    "OTLP/HTTP bodies are application/x-protobuf or application/json; got {other:?}"
                ),
            }),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Whether a `Content-Encoding` says the body is gzip-compressed (the only compression the
/// OTLP/HTTP spec names).
pub fn is_gzip(content_encoding: Option<&str>) -> Result<bool, OtlpError> {
    match content_encoding
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "identity" | "" => Ok(false),
        "gzip" => Ok(true),
        other => Err(OtlpError::UnsupportedMedia {
            field: "content-encoding",
            message: format!(
                "OTLP/HTTP bodies are gzip-compressed or not compressed; got {other:?}"
            ),
        }),
    }
}

/// Why an OTLP request was refused before its signal saw it.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// A content type or encoding OTLP/HTTP does not have (415).
    #[error("{field}: {message}")]
    UnsupportedMedia {
        field: &'static str,
        message: String,
    },
    /// A body that is not what it says it is (400: no retry can fix it).
    #[error("{field}: {message}")]
    Malformed {
        field: &'static str,
        message: String,
    },
    /// A body that decompresses to more than `limit` bytes (413).
    #[error("the body decompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    /// What it decompresses to does not fit the in-flight budget now.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

impl OtlpError {
    pub fn malformed(field: &'static str, message: impl Into<String>) -> Self {
        Self::Malformed {
            field,
            message: message.into(),
        }
    }
}

/// The decompressed body of a gzip-compressed write, at most `limit` bytes, each piece
/// charged through `hold` (the bytes decompressed so far) before it is kept.
pub fn gunzip(
    compressed: &[u8],
    limit: u64,
    mut hold: impl FnMut(u64) -> Result<(), AdmissionError>,
) -> Result<Vec<u8>, OtlpError> {
    let mut decoder = flate2::read::GzDecoder::new(compressed);
    let mut out = Vec::new();
    let mut piece = vec![0u8; 64 * 1024];
    loop {
        let n = decoder
            .read(&mut piece)
            .map_err(|e| OtlpError::malformed("body", format!("not valid gzip: {e}")))?;
        if n == 0 {
            return Ok(out);
        }
        let size = (out.len() + n) as u64;
        if size > limit {
            return Err(OtlpError::TooLarge { limit });
        }
        hold(size)?;
        out.extend_from_slice(&piece[..n]);
    }
}

/// Decodes an (already decompressed) export request; `what` names the message in errors.
pub fn decode<M>(body: &[u8], encoding: Encoding, what: &str) -> Result<M, OtlpError>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    match encoding {
        Encoding::Protobuf => M::decode(body)
            .map_err(|e| OtlpError::malformed("body", format!("not an OTLP {what}: {e}"))),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| OtlpError::malformed("body", format!("not an OTLP/JSON {what}: {e}"))),
    }
}

/// An export answer in the request's encoding.
pub fn encode<M: prost::Message + serde::Serialize>(encoding: Encoding, message: &M) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn encodings_and_compressions_are_told_apart_and_others_refused() {
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8").unwrap(),
            Encoding::Json
        );
        assert_eq!(
            Encoding::from_content_type("Application/X-Protobuf").unwrap(),
            Encoding::Protobuf
        );
        assert!(matches!(
            Encoding::from_content_type("text/plain"),
            Err(OtlpError::UnsupportedMedia {
                field: "content-type",
                ..
            })
        ));
        assert!(!is_gzip(None).unwrap());
        assert!(is_gzip(Some("GZIP")).unwrap());
        assert!(is_gzip(Some("br")).is_err());
    }

    #[test]
    fn gunzip_stops_at_the_limit_and_charges_every_piece_first() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![b'a'; 200_000]).unwrap();
        let compressed = gz.finish().unwrap();
        let mut charged = Vec::new();
        let out = gunzip(&compressed, 1 << 20, |n| {
            charged.push(n);
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len(), 200_000);
        assert_eq!(charged.last(), Some(&200_000));
        assert!(matches!(
            gunzip(&compressed, 100_000, |_| Ok(())),
            Err(OtlpError::TooLarge { limit: 100_000 })
        ));
        assert!(matches!(
            gunzip(&compressed, 1 << 20, |_| Err(AdmissionError::Overloaded {
                inflight_limit: 1
            })),
            Err(OtlpError::Admission(_))
        ));
        assert!(matches!(
            gunzip(b"not gzip", 1 << 20, |_| Ok(())),
            Err(OtlpError::Malformed { .. })
        ));
    }
}
