//! Renders a message as an RFC 5322 / MIME (RFC 2045-2047) `.eml` file: CRLF line endings,
//! non-ASCII header text as RFC 2047 encoded-words, bodies in UTF-8 quoted-printable, and
//! `multipart/alternative` when an HTML part is given.

use base64ct::{Base64, Encoding};

/// Headers a caller may not set through `headers` (the sandbox writes them itself).
pub const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// Longest encoded-word (RFC 2047 section 2).
const MAX_ENCODED_WORD: usize = 75;

/// Longest quoted-printable line before a soft break (RFC 2045 section 6.7 rule 5: 76 with `=`).
const QP_LINE: usize = 75;

/// A mailbox: optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, if any.
    pub name: Option<String>,
    /// `local@domain`.
    pub address: String,
}

/// Parses `local@domain` or `Display Name <local@domain>`, minimally checked.
///
/// # Errors
/// The reason, naming the value.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    let text = text.trim();
    if text.chars().any(|c| c.is_control()) {
        return Err(format!("{text:?} contains control characters"));
    }
    let (name, address) = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => {
            let name = text[..open].trim().trim_matches('"').trim();
            (
                (!name.is_empty()).then(|| name.to_owned()),
                inner[open + 1..].trim(),
            )
        }
        (None, None) => (None, text),
        _ => return Err(format!("{text:?} has unbalanced angle brackets")),
    };
    if let Some(name) = &name
        && name.contains(['"', '<', '>', '\\'])
    {
        return Err(format!(
            "display name {name:?} contains quotes, brackets or backslashes"
        ));
    }
    check_address(address)?;
    Ok(Mailbox {
        name,
        address: address.to_owned(),
    })
}

fn check_address(address: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{address:?} is not an email address: {why}"));
    let Some((local, domain)) = address.split_once('@') else {
        return bad("no @");
    };
    if domain.contains('@') {
        return bad("more than one @");
    }
    // RFC 5321 4.5.3.1: local part up to 64 octets, domain up to 255.
    if local.is_empty() || local.len() > 64 {
        return bad("the local part is empty or longer than 64 characters");
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("misplaced dot in the local part");
    }
    if !local.chars().all(|c| c == '.' || atext(c)) {
        return bad("the local part has characters outside RFC 5322 atext");
    }
    if domain.is_empty() || domain.len() > 253 {
        return bad("the domain is empty or too long");
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return bad("the domain is not a host name");
        }
    }
    Ok(())
}

/// RFC 5322 `mailbox`: `address` or `name <address>` with the name quoted or encoded.
/// `prefix` is how many characters precede it on its line (for folding).
pub fn render_mailbox(m: &Mailbox, prefix: usize) -> String {
    match &m.name {
        None => m.address.clone(),
        Some(name) if name.is_ascii() => format!("\"{name}\" <{}>", m.address),
        Some(name) => format!(
            "{}\r\n <{}>",
            encode_words(name, prefix).join("\r\n "),
            m.address
        ),
    }
}

/// RFC 2047 B encoded-words for `text` (UTF-8), split on character boundaries so every word
/// decodes on its own (section 5 rule 3). Each word is at most 75 characters and each line at
/// most 76 (section 2): the first word leaves room for the `prefix` characters before it, the
/// others follow a one-space fold.
pub fn encode_words(text: &str, prefix: usize) -> Vec<String> {
    const OVERHEAD: usize = "=?UTF-8?B??=".len();
    // 4 base64 characters carry 3 bytes.
    let capacity = |line_room: usize| {
        (line_room.min(MAX_ENCODED_WORD).saturating_sub(OVERHEAD) / 4 * 3).max(4)
    };
    let mut max_bytes = capacity(76usize.saturating_sub(prefix));
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if !chunk.is_empty() && chunk.len() + c.len_utf8() > max_bytes {
            words.push(format!(
                "=?UTF-8?B?{}?=",
                Base64::encode_string(chunk.as_bytes())
            ));
            chunk.clear();
            max_bytes = capacity(75);
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!(
            "=?UTF-8?B?{}?=",
            Base64::encode_string(chunk.as_bytes())
        ));
    }
    words
}

/// An unstructured header value after `prefix` characters: as is when ASCII, else encoded-words
/// folded over lines.
pub fn header_text(value: &str, prefix: usize) -> String {
    if value.is_ascii() {
        value.to_owned()
    } else {
        encode_words(value, prefix).join("\r\n ")
    }
}

/// Quoted-printable (RFC 2045 section 6.7) of UTF-8 text; line breaks (LF or CRLF) become CRLF.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal = match b {
                b'=' => false,
                // Trailing white space would be stripped in transport: encode it (rule 3).
                b' ' | b'\t' => !last,
                33..=126 => true,
                _ => false,
            };
            let token = if literal {
                char::from(b).to_string()
            } else {
                format!("={b:02X}")
            };
            if width + token.len() > QP_LINE {
                out.push_str("=\r\n");
                width = 0;
            }
            width += token.len();
            out.push_str(&token);
        }
        if lines.peek().is_some() {
            out.push_str("\r\n");
        }
    }
    out
}

/// Everything a rendered message needs.
#[derive(Debug)]
pub struct Message<'a> {
    /// Sender.
    pub from: &'a Mailbox,
    /// Recipients.
    pub to: &'a [Mailbox],
    /// Subject (may be non-ASCII).
    pub subject: &'a str,
    /// Plain-text body.
    pub text: &'a str,
    /// HTML body, when given.
    pub html: Option<&'a str>,
    /// Extra headers, already checked.
    pub headers: &'a [(String, String)],
    /// RFC 5322 date.
    pub date: &'a str,
    /// Message-ID without angle brackets.
    pub message_id: &'a str,
    /// Multipart boundary (used only with `html`).
    pub boundary: &'a str,
}

/// The `.eml` bytes.
pub fn render(m: &Message<'_>) -> String {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("From", &render_mailbox(m.from, "From: ".len()));
    header(
        "To",
        &m.to
            .iter()
            .enumerate()
            .map(|(i, t)| render_mailbox(t, if i == 0 { "To: ".len() } else { 1 }))
            .collect::<Vec<_>>()
            .join(",\r\n "),
    );
    header("Subject", &header_text(m.subject, "Subject: ".len()));
    header("Date", m.date);
    header("Message-ID", &format!("<{}>", m.message_id));
    header("MIME-Version", "1.0");
    for (name, value) in m.headers {
        header(name, &header_text(value, name.len() + 2));
    }
    // `delimited`: a multipart delimiter follows, whose leading CRLF is not part of the body.
    let part = |content_type: &str, body: &str, delimited: bool| {
        let mut encoded = quoted_printable(body);
        if delimited || !encoded.ends_with("\r\n") {
            encoded.push_str("\r\n");
        }
        format!(
            "Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}"
        )
    };
    match m.html {
        None => out.push_str(&part("text/plain", m.text, false)),
        Some(html) => {
            let b = m.boundary;
            out.push_str(&format!(
                "Content-Type: multipart/alternative;\r\n boundary=\"{b}\"\r\n\r\n\
                 This is a multi-part message in MIME format.\r\n\
                 --{b}\r\n{}--{b}\r\n{}--{b}--\r\n",
                part("text/plain", m.text, true),
                part("text/html", html, true)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes() {
        assert_eq!(
            parse_mailbox("a.b@example.com").unwrap().address,
            "a.b@example.com"
        );
        let m = parse_mailbox("Jörg Ü <jorg@example.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Jörg Ü"));
        assert!(render_mailbox(&m, 6).starts_with("=?UTF-8?B?"));
        for bad in [
            "nobody",
            "a@b@c",
            "@x.com",
            "a..b@x.com",
            "a@-x.com",
            "a b@x.com",
            "<a@x.com",
            "a@x.com\r\nBcc: e@x.com",
        ] {
            assert!(parse_mailbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_printable_rules() {
        assert_eq!(quoted_printable("a=b"), "a=3Db");
        assert_eq!(quoted_printable("end \nx"), "end=20\r\nx");
        assert_eq!(quoted_printable("é"), "=C3=A9");
        let long = quoted_printable(&"x".repeat(200));
        assert!(long.split("\r\n").all(|l| l.len() <= 76), "{long}");
        assert_eq!(long.replace("=\r\n", ""), "x".repeat(200));
    }

    #[test]
    fn encoded_words_are_short_and_whole() {
        let words = encode_words(&"€".repeat(40), 9);
        assert!(words.len() > 1);
        assert!(words[0].len() + 9 <= 76, "{}", words[0]);
        for w in &words {
            assert!(w.len() <= MAX_ENCODED_WORD, "{w}");
            let inner = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
            let bytes = Base64::decode_vec(inner).unwrap();
            assert!(String::from_utf8(bytes).is_ok());
        }
    }
}
