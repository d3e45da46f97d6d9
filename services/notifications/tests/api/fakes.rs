//! The third parties, as real servers of ours on loopback speaking the real protocols: an SMTP
//! server that accepts every message and keeps it (headers unfolded, subject and body decoded),
//! and an HTTP gateway that keeps every SMS and push request with its headers and answers with
//! a status the test chooses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One e-mail as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Header names in lower case, values unfolded (still encoded).
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub body: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn message_id(&self) -> &str {
        self.header("message-id").unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct SmtpServer {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Self {
            addr: listener.local_addr().unwrap(),
            mails: Arc::default(),
        };
        let mails = server.mails.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, mails.clone()));
            }
        });
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message with `rcpt` among its recipients, in arrival order.
    pub fn mails_to(&self, rcpt: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == rcpt))
            .cloned()
            .collect()
    }

    /// Waits until `rcpt` has received at least `n` messages.
    pub async fn wait_for(&self, rcpt: &str, n: usize) -> Vec<Mail> {
        testkit::eventually(&format!("{n} e-mail(s) to {rcpt}"), || async {
            let mails = self.mails_to(rcpt);
            (mails.len() >= n).then_some(mails)
        })
        .await
    }
}

/// One SMTP session: greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA … `.`, RSET, NOOP, QUIT.
async fn session(socket: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(b"220 fake-smtp ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut from = String::new();
    let mut rcpt = Vec::new();
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") {
            b"250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 fake-smtp\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(address(&command["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            if write
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                let mut l = String::new();
                match lines.read_line(&mut l).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                // Dot-stuffing (RFC 5321 4.5.2).
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l),
                );
            }
            mails.lock().unwrap().push(parse(&from, &rcpt, &data));
            b"250 OK queued\r\n"
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 command not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .map_or(arg, |(addr, _)| addr);
    inner.to_owned()
}

fn parse(from: &str, rcpt: &[String], data: &str) -> Mail {
    let data = data.replace("\r\n", "\n");
    let (head, body) = data.split_once("\n\n").unwrap_or((&data, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let body = match get("content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => String::from_utf8(base64(&body.replace(['\n', ' '], ""))).unwrap(),
        "quoted-printable" => String::from_utf8(quoted_printable(body)).unwrap(),
        _ => body.to_owned(),
    };
    Mail {
        mail_from: from.to_owned(),
        rcpt_to: rcpt.to_vec(),
        subject: encoded_words(&get("subject")),
        body,
        headers,
    }
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace between two encoded
/// words is dropped, as the RFC says.
fn encoded_words(value: &str) -> String {
    let mut out = Vec::new();
    // Whether the previous token was an encoded word; None before the first.
    let mut previous: Option<bool> = None;
    for token in value.split_whitespace() {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                Some((parts.next()?, parts.next()?, parts.next()?))
            });
        match word {
            Some((_, encoding, text)) => {
                if previous == Some(false) {
                    out.push(b' ');
                }
                if encoding.eq_ignore_ascii_case("b") {
                    out.extend(base64(text));
                } else {
                    out.extend(quoted_printable(&text.replace('_', " ")));
                }
                previous = Some(true);
            }
            None => {
                if previous.is_some() {
                    out.push(b' ');
                }
                out.extend(token.as_bytes());
                previous = Some(false);
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// One request to the SMS gateway or the push webhook.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: serde_json::Value,
}

impl Call {
    pub fn idempotency_key(&self) -> &str {
        self.headers
            .get("idempotency-key")
            .map_or("", String::as_str)
    }
}

#[derive(Clone)]
pub struct Gateway {
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    status: Arc<AtomicU16>,
}

impl Gateway {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = Self {
            addr: listener.local_addr().unwrap(),
            calls: Arc::default(),
            status: Arc::new(AtomicU16::new(202)),
        };
        let router = Router::new()
            .route("/sms", post(receive))
            .route("/push", post(receive))
            .with_state(gateway.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        gateway
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every request from now on with `status`.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Calls on `path` whose JSON `field` is `value`.
    pub fn calls(&self, path: &str, field: &str, value: &str) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path == path && c.body[field] == value)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, path: &str, field: &str, value: &str, n: usize) -> Vec<Call> {
        testkit::eventually(&format!("{n} call(s) to {path} for {value}"), || async {
            let calls = self.calls(path, field, value);
            (calls.len() >= n).then_some(calls)
        })
        .await
    }
}

async fn receive(
    State(gateway): State<Gateway>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let call = Call {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or_default(),
    };
    gateway.calls.lock().unwrap().push(call);
    StatusCode::from_u16(gateway.status.load(Ordering::SeqCst)).unwrap()
}
