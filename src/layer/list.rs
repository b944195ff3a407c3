//! One layer's listing, the cheapest exact way: the listing cache, else the layer's table of
//! contents (eStargz, zstd:chunked), else the whole blob streamed and digest-verified.

use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::layer::cache::ListingCache;
use crate::layer::index::{self, IndexRecording};
use crate::layer::stream::{FileData, FileTap, PeekProgress, Recorders, stream_layer_recording};
use crate::layer::toc::{TocResult, list_from_toc};
use crate::model::{Entry, LayerResult, LayerStatus, ListedFrom};
use crate::oci::LayerInfo;
use crate::source::ImageSource;

/// How a layer may be listed.
#[derive(Debug, Clone, Copy)]
pub struct ListingOptions<'a> {
    /// Listings replayed and stored, if any.
    pub cache: Option<&'a ListingCache>,
    /// List from a table of contents when the layer has one (not with
    /// [`ContentNeed::Required`]).
    pub use_toc: bool,
    /// Whether regular files get their [`Entry::content`] facts.
    pub content: ContentNeed,
}

/// Whether listed regular files carry their [`Entry::content`] facts (hash, secret marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentNeed {
    /// No: file data is skipped (the fastest listing).
    Skip,
    /// When the layer is streamed; a table of contents or a cached listing without them
    /// will do.
    WhenStreamed,
    /// Always: the layer is streamed unless the cache holds a listing with them.
    Required,
}

/// Lists one layer, handing each entry to `on_entry` as it comes: from the cache when it holds
/// the layer, from the layer's TOC when it has a usable one, else by streaming the blob
/// (saying in the result's note why a TOC was not used). Complete listings that were
/// verified (blob digest, or TOC digest) are stored in the cache; with a streamed gzip
/// layer, its random-access index too ([`crate::layer::index`]).
pub fn list_layer(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    options: ListingOptions<'_>,
    cancel: &CancelToken,
    progress: &Arc<PeekProgress>,
    on_entry: &mut dyn FnMut(Entry),
) -> LayerResult {
    list_layer_tapped(source, layer, options, None, cancel, progress, on_entry)
}

/// [`list_layer`], copying the data of the files `tap` chooses as they stream by. With a
/// tap the blob is always streamed (neither the cache nor a TOC holds file data); the
/// listing (and index) it makes is still stored.
pub(crate) fn list_layer_tapped(
    source: &dyn ImageSource,
    layer: &LayerInfo,
    options: ListingOptions<'_>,
    tap: Option<&mut dyn FileTap>,
    cancel: &CancelToken,
    progress: &Arc<PeekProgress>,
    on_entry: &mut dyn FnMut(Entry),
) -> LayerResult {
    if let Some(cache) = options.cache.filter(|_| tap.is_none()) {
        let required = options.content == ContentNeed::Required;
        let replayed = cache.replay(layer.digest(), required, &mut |entry| {
            progress.count_entry();
            on_entry(entry);
        });
        if replayed.is_some() {
            return LayerResult::new(
                LayerStatus::Complete {
                    digest_verified: true,
                },
                0,
                ListedFrom::Cache,
            );
        }
    }
    let use_toc = options.use_toc && options.content != ContentNeed::Required && tap.is_none();
    let toc = if use_toc && !cancel.is_cancelled() {
        list_from_toc(source, layer, cancel)
    } else {
        TocResult::NoToc
    };
    let file_data = match options.content {
        ContentNeed::Skip => FileData::Skip,
        ContentNeed::WhenStreamed | ContentNeed::Required => FileData::Scan,
    };
    let with_content = file_data == FileData::Scan && !matches!(toc, TocResult::Listed(_));
    let mut writer = options
        .cache
        .and_then(|cache| cache.writer(layer.digest(), with_content).ok());
    let mut keep = |entry: &Entry| {
        if let Some(active) = &mut writer
            && active.add(entry).is_err()
        {
            writer = None; // a full disk loses the cache entry, not the listing
        }
    };
    let mut recording = IndexRecording::default();
    let (outcome, verified) = match toc {
        TocResult::Listed(listing) => {
            for entry in listing.entries {
                keep(&entry);
                progress.count_entry();
                on_entry(entry);
            }
            let outcome = LayerResult::new(
                LayerStatus::Complete {
                    digest_verified: false,
                },
                listing.bytes_fetched,
                ListedFrom::Toc {
                    format: listing.format,
                    verified: listing.verified,
                },
            );
            (outcome, listing.verified)
        }
        TocResult::NoToc | TocResult::Fallback(_) => {
            let note = match toc {
                TocResult::Fallback(reason) => Some(format!("{reason}; read the whole layer")),
                _ => None,
            };
            let record = options.cache.is_some().then_some(&mut recording);
            let outcome = stream_layer_recording(
                source,
                layer,
                file_data,
                cancel,
                progress,
                &mut |entry| {
                    keep(&entry);
                    on_entry(entry);
                },
                Recorders {
                    index: record,
                    tap: tap.map(|tap| tap as &mut dyn FileTap),
                },
            );
            let verified = outcome.status
                == LayerStatus::Complete {
                    digest_verified: true,
                };
            // Both notes matter: why the TOC was not used, and how the download went.
            let note = [note, outcome.note.clone()]
                .into_iter()
                .flatten()
                .reduce(|all, more| format!("{all}; {more}"));
            (LayerResult { note, ..outcome }, verified)
        }
    };
    if verified && let Some(writer) = writer {
        let index = index::encode(layer.digest(), layer.size(), &recording, writer.entries());
        writer.commit_with_index(index).ok();
    }
    outcome
}
