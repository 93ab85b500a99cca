//! Errors from the XRootD client, named by URL and classified: retryable (timeouts, refused or
//! reset connections, busy servers, redirect loops: another attempt or another server may
//! work) or permanent (no such file, permission denied, a bad URL: it will fail again).
//!
//! The class travels as a `std::io::ErrorKind`, so callers that already classify I/O errors
//! need nothing XRootD-specific: permanent failures come as `NotFound`, `PermissionDenied`,
//! `InvalidInput` or `UnexpectedEof` (the kinds `rootio::source::is_permanent` accepts, which
//! the reader's retries and the wrapper's exit classes use), anything else is retryable.

use std::io;

use crate::sys;

/// XrdCl error codes (`XrdCl/XrdClStatus.hh`) this crate tells apart.
mod code {
    pub const INVALID_OP: u16 = 3;
    pub const INVALID_ARGS: u16 = 9;
    pub const NOT_SUPPORTED: u16 = 13;
    pub const INVALID_ADDR: u16 = 101;
    pub const SOCKET_ERROR: u16 = 102;
    pub const SOCKET_TIMEOUT: u16 = 103;
    pub const SOCKET_DISCONNECTED: u16 = 104;
    pub const STREAM_DISCONNECT: u16 = 107;
    pub const CONNECTION_ERROR: u16 = 108;
    pub const INVALID_SESSION: u16 = 109;
    pub const LOGIN_FAILED: u16 = 203;
    pub const AUTH_FAILED: u16 = 204;
    pub const OPERATION_EXPIRED: u16 = 206;
    pub const REDIRECT_LIMIT: u16 = 306;
    pub const ERROR_RESPONSE: u16 = 400;
}

/// Server error numbers (`kXR_*`, `XProtocol/XProtocol.hh`) for `code == 400`.
mod kxr {
    pub const ARG_INVALID: u32 = 3000;
    pub const ARG_MISSING: u32 = 3001;
    pub const ARG_TOO_LONG: u32 = 3002;
    pub const INVALID_REQUEST: u32 = 3006;
    pub const NOT_AUTHORIZED: u32 = 3010;
    pub const NOT_FOUND: u32 = 3011;
    pub const UNSUPPORTED: u32 = 3013;
    pub const NOT_FILE: u32 = 3015;
    pub const IS_DIRECTORY: u32 = 3016;
    pub const AUTH_FAILED: u32 = 3030;
    pub const REQ_TIMED_OUT: u32 = 3034;
}

/// An XRootD failure. Every variant names the URL it concerns.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum XrdError {
    /// The XRootD client library could not be loaded on this host.
    /// (`reason` is part of the message rather than its `source`, so a chain printed with
    /// `{:#}` says it once.)
    #[error("{url}: XRootD support unavailable on this host: {reason}")]
    Unavailable {
        url: String,
        reason: crate::loader::LoadError,
    },
    /// Not an XRootD URL we can use.
    #[error("{url}: invalid XRootD URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// XrdCl or the server reported an error.
    #[error("{url}: {op} failed: {message}")]
    Client {
        url: String,
        op: &'static str,
        /// XrdCl status (1 error, 3 fatal).
        status: u16,
        /// XrdCl error code (400: the server's error, in `errnum`).
        code: u16,
        /// The server's kXR error number when `code` is 400.
        errnum: u32,
        /// The client-side deadline passed.
        timed_out: bool,
        message: String,
    },
    /// The bytes do not add up: a short read inside the file, a size that changed between
    /// servers, a range past the end.
    #[error("{url}: {message}")]
    Data {
        url: String,
        kind: io::ErrorKind,
        message: String,
    },
    /// Every URL and every attempt failed; `last` is the most telling failure. `name` is
    /// the input (callers' messages already lead with it), `tried` the URLs.
    #[error("gave up after {attempts} attempts at {tried}; last: {last}")]
    Exhausted {
        name: String,
        attempts: u32,
        tried: String,
        last: Box<XrdError>,
    },
}

impl XrdError {
    pub(crate) fn from_status(url: &str, op: &'static str, st: &sys::xrd_status) -> XrdError {
        // The shim NUL-terminates `message` inside the array.
        let bytes: Vec<u8> = st
            .message
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let mut message = String::from_utf8_lossy(&bytes).into_owned();
        if message.is_empty() {
            message = format!("XrdCl status {}, code {}", st.status, st.code);
        }
        XrdError::Client {
            url: url.to_string(),
            op,
            status: st.status,
            code: st.code,
            errnum: st.errnum,
            timed_out: st.timed_out != 0,
            message,
        }
    }

    /// The URL (or input name) the error is about.
    pub fn url(&self) -> &str {
        match self {
            XrdError::Unavailable { url, .. }
            | XrdError::InvalidUrl { url, .. }
            | XrdError::Client { url, .. }
            | XrdError::Data { url, .. } => url,
            XrdError::Exhausted { name, .. } => name,
        }
    }

    /// The `std::io` kind that carries this error's class (see the module's documentation).
    pub fn io_kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            // Another worker may have XRootD: worth a retry elsewhere.
            XrdError::Unavailable { .. } => K::Unsupported,
            XrdError::InvalidUrl { .. } => K::InvalidInput,
            XrdError::Data { kind, .. } => *kind,
            XrdError::Exhausted { last, .. } => last.io_kind(),
            XrdError::Client {
                code: c,
                errnum,
                timed_out,
                ..
            } => {
                if *timed_out {
                    return K::TimedOut;
                }
                match *c {
                    code::ERROR_RESPONSE => match *errnum {
                        kxr::NOT_FOUND => K::NotFound,
                        kxr::NOT_AUTHORIZED | kxr::AUTH_FAILED => K::PermissionDenied,
                        kxr::NOT_FILE
                        | kxr::IS_DIRECTORY
                        | kxr::ARG_INVALID
                        | kxr::ARG_MISSING
                        | kxr::ARG_TOO_LONG
                        | kxr::INVALID_REQUEST
                        | kxr::UNSUPPORTED => K::InvalidInput,
                        kxr::REQ_TIMED_OUT => K::TimedOut,
                        // Overloaded, no server, I/O and server errors: transient.
                        _ => K::Other,
                    },
                    code::INVALID_ADDR | code::INVALID_ARGS | code::NOT_SUPPORTED => {
                        K::InvalidInput
                    }
                    code::LOGIN_FAILED | code::AUTH_FAILED => K::PermissionDenied,
                    code::OPERATION_EXPIRED | code::SOCKET_TIMEOUT => K::TimedOut,
                    code::CONNECTION_ERROR => K::ConnectionRefused,
                    code::SOCKET_ERROR
                    | code::SOCKET_DISCONNECTED
                    | code::STREAM_DISCONNECT
                    | code::INVALID_SESSION => K::ConnectionReset,
                    // Redirect loops, a file handle left invalid by a broken connection, and
                    // anything unknown: a fresh attempt may work.
                    code::REDIRECT_LIMIT | code::INVALID_OP => K::Other,
                    _ => K::Other,
                }
            }
        }
    }
}

impl From<XrdError> for io::Error {
    fn from(e: XrdError) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(code: u16, errnum: u32) -> XrdError {
        XrdError::Client {
            url: "root://h:1//f".into(),
            op: "open",
            status: 1,
            code,
            errnum,
            timed_out: false,
            message: String::new(),
        }
    }

    #[test]
    fn server_answers_are_classified() {
        assert_eq!(client(400, 3011).io_kind(), io::ErrorKind::NotFound);
        assert_eq!(client(400, 3010).io_kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(client(400, 3016).io_kind(), io::ErrorKind::InvalidInput);
        // kXR_Overloaded, kXR_ServerError, kXR_IOError: another try may work.
        for n in [3024, 3012, 3007] {
            assert_eq!(client(400, n).io_kind(), io::ErrorKind::Other, "kXR {n}");
        }
    }

    #[test]
    fn transport_failures_are_retryable() {
        use io::ErrorKind as K;
        for (c, kind) in [
            (103, K::TimedOut),
            (104, K::ConnectionReset),
            (107, K::ConnectionReset),
            (108, K::ConnectionRefused),
            (206, K::TimedOut),
            (306, K::Other),
            (3, K::Other),
        ] {
            assert_eq!(client(c, 0).io_kind(), kind, "code {c}");
        }
        assert_eq!(client(101, 0).io_kind(), K::InvalidInput, "invalid address");
        let mut timed_out = client(400, 3011);
        if let XrdError::Client { timed_out: t, .. } = &mut timed_out {
            *t = true;
        }
        assert_eq!(timed_out.io_kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn messages_name_the_url_and_io_errors_keep_the_class() {
        let e = client(400, 3011);
        assert!(e.to_string().starts_with("root://h:1//f: open failed"));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        assert!(io.to_string().contains("root://h:1//f"));
    }
}
