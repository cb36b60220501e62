//! The live-reload endpoint the watch loop offers: the WebSocket leptos' `AutoReload` script
//! connects to (`ws://<host>:3001/live_reload`, rendered by the portal when `LEPTOS_WATCH` is
//! set). After each rebuild every open page is told `{"all":true}` and reloads itself.

use anyhow::{Context, Result};
use base64::Engine;
use sha1::{Digest, Sha1};
use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

/// The GUID RFC 6455 appends to a client's key.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The pages connected for reloads.
#[derive(Clone, Default)]
pub struct Reloader {
    pages: Arc<Mutex<Vec<TcpStream>>>,
}

impl Reloader {
    /// Listens on `address` and keeps every page that connects.
    pub fn listen(address: &str) -> Result<Self> {
        let listener = TcpListener::bind(address)
            .with_context(|| format!("failed to listen for live reload on {address}"))?;
        let reloader = Self::default();
        let pages = reloader.pages.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Ok(stream) = handshake(stream) {
                    pages.lock().unwrap_or_else(|e| e.into_inner()).push(stream);
                }
            }
        });
        Ok(reloader)
    }

    /// Tells every connected page to reload; pages that went away are forgotten.
    pub fn reload_all(&self) {
        let frame = text_frame(br#"{"all":true}"#);
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        pages.retain_mut(|page| page.write_all(&frame).is_ok());
    }
}

/// Answers a WebSocket upgrade request; the connection is then only written to.
fn handshake(stream: TcpStream) -> Result<TcpStream> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            anyhow::bail!("connection closed during the handshake");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value.trim().to_string());
            }
        }
    }
    let key = key.context("not a WebSocket request")?;
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    )?;
    Ok(stream)
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455, section 4.2.2).
fn accept_key(key: &str) -> String {
    let digest = Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(WEBSOCKET_GUID.as_bytes())
        .finalize();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// One unmasked text frame (a server's frames are never masked), for payloads under 126 bytes.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "reload messages are short");
    let mut frame = vec![0x81, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_text_frame_is_fin_text_length_payload() {
        assert_eq!(text_frame(b"hi"), [0x81, 2, b'h', b'i']);
    }
}
