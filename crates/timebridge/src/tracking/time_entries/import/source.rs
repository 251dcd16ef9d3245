//! The CSV of an import request, read as it arrives: a multipart field `file`, the `csv` (or
//! `data`) of a JSON body, or the raw body. The bytes go through a small bounded channel to the
//! parser, which runs on a blocking thread, so a large file is never held whole in memory.
//!
//! The import has its own size limit (`IMPORT_MAX_BODY_MB`). Past it, the rest of the upload
//! is read and dropped (up to a bound) before the JSON 413 is sent, so that a client still
//! sending its file reads the answer instead of a reset connection.

use std::{
    io::{self, Read},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, FromRequest, Multipart, Request},
    http::header,
};
use futures_util::{Stream, StreamExt, stream};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::platform::{error::ApiError, extract::parse_json};

/// Chunks in flight between the upload and the parser.
const IN_FLIGHT: usize = 16;
/// How much of an oversized upload is still read (and dropped) so the client sees the 413;
/// past this the connection is simply closed.
const DRAIN_LIMIT: usize = 256 * 1024 * 1024;

/// The parser's end of an upload: blocking reads of what the request handler forwards.
pub struct UploadReader {
    chunks: mpsc::Receiver<Result<Bytes, ()>>,
    current: Bytes,
}

impl Read for UploadReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(())) => return Err(io::Error::other("the upload failed")),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The request handler's end of an upload: forwards the request's CSV to the reader.
pub struct Upload {
    request: Request,
    limit: usize,
    chunks: mpsc::Sender<Result<Bytes, ()>>,
}

/// Splits a request into the reader the parser reads and the upload that feeds it.
pub fn upload(request: Request, limit: usize) -> (Upload, UploadReader) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let reader = UploadReader {
        chunks: rx,
        current: Bytes::new(),
    };
    let upload = Upload {
        request,
        limit,
        chunks: tx,
    };
    (upload, reader)
}

impl Upload {
    /// Forwards the CSV to the reader until it ends; answers why it could not, if so (413
    /// past the limit, 400 for an unreadable body or no `file` field).
    pub async fn forward(self) -> Result<(), ApiError> {
        let Self {
            request,
            limit,
            chunks,
        } = self;
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let too_large = Arc::new(AtomicBool::new(false));
        let (parts, body) = request.into_parts();
        let body = Body::from_stream(limited(body, limit, too_large.clone()));
        let mut request = Request::from_parts(parts, body);
        // The limit is ours (above); axum's default one is the API's, far smaller.
        DefaultBodyLimit::disable().apply(&mut request);
        let mut sink = Sink::new(chunks);
        let outcome = if content_type.starts_with("multipart/form-data") {
            forward_multipart(request, &mut sink).await
        } else if content_type.starts_with("application/json") {
            forward_json(request, &mut sink).await
        } else {
            forward_raw(request, &mut sink).await
        };
        if too_large.load(Ordering::Relaxed) {
            sink.fail().await;
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit });
        }
        if outcome.is_err() {
            sink.fail().await;
        }
        outcome
    }
}

/// Where forwarded chunks go. Once the parser has stopped (it found the file unusable), the
/// rest of the upload is still read, and dropped, so the client reads the answer.
struct Sink {
    chunks: Option<mpsc::Sender<Result<Bytes, ()>>>,
}

impl Sink {
    fn new(chunks: mpsc::Sender<Result<Bytes, ()>>) -> Self {
        Self {
            chunks: Some(chunks),
        }
    }

    async fn send(&mut self, chunk: Bytes) {
        if let Some(chunks) = &self.chunks
            && chunks.send(Ok(chunk)).await.is_err()
        {
            self.chunks = None;
        }
    }

    /// Tells the parser the upload failed, so it never takes a cut file for a whole one.
    async fn fail(&mut self) {
        if let Some(chunks) = self.chunks.take() {
            let _ = chunks.send(Err(())).await;
        }
    }
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("Unreadable {what}: {e}"))
}

async fn forward_multipart(request: Request, sink: &mut Sink) -> Result<(), ApiError> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| unreadable("multipart body", e.body_text()))?;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| unreadable("multipart body", e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| unreadable("file", e.body_text()))?
        {
            sink.send(chunk).await;
        }
        drop(field);
        // Whatever follows the file is read too, so the request ends cleanly.
        while form
            .next_field()
            .await
            .map_err(|e| unreadable("multipart body", e.body_text()))?
            .is_some()
        {}
        return Ok(());
    }
    Err(ApiError::invalid(
        "file",
        "is required (a multipart field named file)",
    ))
}

async fn forward_json(request: Request, sink: &mut Sink) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Wrapped {
        csv: Option<String>,
        data: Option<String>,
    }
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|e| unreadable("body", e.body_text()))?;
    let wrapped: Wrapped = parse_json(&bytes)?;
    let text = wrapped
        .csv
        .or(wrapped.data)
        .ok_or_else(|| ApiError::invalid("csv", "is required"))?;
    sink.send(Bytes::from(text)).await;
    Ok(())
}

async fn forward_raw(request: Request, sink: &mut Sink) -> Result<(), ApiError> {
    let mut body = request.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        sink.send(chunk.map_err(|e| unreadable("body", e))?).await;
    }
    Ok(())
}

/// The body's bytes, up to `limit`. Past it, `too_large` is set, the rest of the upload is read
/// and dropped (up to [`DRAIN_LIMIT`]), and the stream ends with an error.
fn limited(
    body: Body,
    limit: usize,
    too_large: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let state = Some((body.into_data_stream(), 0_usize));
    stream::unfold(state, move |state| {
        let too_large = too_large.clone();
        async move {
            let (mut inner, read) = state?;
            let chunk = match inner.next().await? {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(io::Error::other(e)), None)),
            };
            let read = read + chunk.len();
            if read <= limit {
                return Some((Ok(chunk), Some((inner, read))));
            }
            too_large.store(true, Ordering::Relaxed);
            let mut drained = read;
            while drained < DRAIN_LIMIT {
                match inner.next().await {
                    Some(Ok(chunk)) => drained += chunk.len(),
                    _ => break,
                }
            }
            Some((Err(io::Error::other("the file is too large")), None))
        }
    })
}
