//! `peek IMAGE`: list layers' entries, as they arrive, as text, CSV or JSON, or merged.

use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::cli::args::PeekArgs;
use crate::cli::commands::layers::print_layer_table;
use crate::cli::commands::open;
use crate::cli::exit::{Failure, exit_code, listings_exit_code, stdout_failure};
use crate::cli::progress::ProgressBars;
use crate::layer::cache::ListingCache;
use crate::layer::list::{ContentNeed, ListingOptions};
use crate::layer::parallel::{Delivery, LayerEvent, ParallelPeek, default_concurrency};
use crate::layer::stream::PeekProgress;
use crate::model::{Entry, LayerListing, MergedEntry, merge_layers};
use crate::oci::{ImageInfo, LayerInfo};
use crate::output::{self, Destination, listed_from_note};
use crate::output::{escape_control, human_size};
use crate::source::open::OpenedImage;

/// Entries printed to a pipe are flushed at least this often.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Parses `0,2,5` or `all` (case-insensitive; empty means all) against `count` layers.
pub fn parse_layer_selection(text: &str, count: usize) -> Result<Vec<usize>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("all") {
        return Ok((0..count).collect());
    }
    let mut chosen = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let index: usize = part
            .parse()
            .map_err(|_| format!("{part:?} is not a layer index; use numbers like 0,2 or ALL"))?;
        if index >= count {
            return Err(format!(
                "layer {index} does not exist; this image has layers 0 to {}",
                count.saturating_sub(1)
            ));
        }
        if !chosen.contains(&index) {
            chosen.push(index);
        }
    }
    if chosen.is_empty() {
        return Err("no layer chosen; use numbers like 0,2 or ALL".into());
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// The seed tool's prompt, shown when `--layers` is absent and stdin is a terminal.
pub(crate) fn prompt_for_layers(image: &ImageInfo) -> Result<Vec<usize>, Failure> {
    let mut stderr = io::stderr();
    let io_failed = |e: io::Error| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not read the answer: {e}"),
        )
    };
    print_layer_table(&mut stderr, image).map_err(io_failed)?;
    loop {
        write!(
            stderr,
            "Layers to peek (comma-separated INDEX or ALL) [default: ALL]: "
        )
        .map_err(io_failed)?;
        stderr.flush().map_err(io_failed)?;
        let mut answer = String::new();
        if io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(io_failed)?
            == 0
        {
            return Ok((0..image.layers.len()).collect());
        }
        match parse_layer_selection(&answer, image.layers.len()) {
            Ok(chosen) => return Ok(chosen),
            Err(problem) => writeln!(stderr, "{problem}").map_err(io_failed)?,
        }
    }
}

pub(crate) fn run_peek(args: &PeekArgs) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let OpenedImage {
        source,
        info: image,
    } = open(&args.image, &cancel)?;
    let chosen = match &args.layers {
        Some(text) => parse_layer_selection(text, image.layers.len())
            .map_err(|e| Failure::new(exit_code::BAD_INPUT, e))?,
        None if io::stdin().is_terminal() => prompt_for_layers(&image)?,
        None => (0..image.layers.len()).collect(),
    };
    let exports_to_stdout = [&args.csv, &args.json]
        .into_iter()
        .any(|arg| arg.as_deref() == Some("-"));
    // Per-layer listings print while they stream; the merged view needs every layer first.
    let print_live = !exports_to_stdout && !args.merged;
    let keep_entries = args.csv.is_some() || args.json.is_some() || args.merged;
    // Lines scrolling on the terminal are progress enough; a bar would fight with them.
    let show_progress =
        !args.quiet && io::stderr().is_terminal() && !(print_live && io::stdout().is_terminal());
    let stdout = io::stdout();
    // A terminal gets each line at once (stdout is line-buffered); a pipe gets big writes.
    let mut out: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(stdout.lock())
    } else {
        Box::new(io::BufWriter::new(stdout.lock()))
    };
    let cache = if args.no_cache {
        None
    } else {
        ListingCache::open_default()
    };
    let layers: Vec<LayerInfo> = chosen.iter().map(|&i| image.layers[i].clone()).collect();
    let progress: Vec<Arc<PeekProgress>> = layers.iter().map(|_| Arc::default()).collect();
    let bars = show_progress.then(|| ProgressBars::new(&layers));
    let peek = ParallelPeek {
        source: source.as_ref(),
        options: ListingOptions {
            cache: cache.as_ref(),
            use_toc: !args.no_toc,
            content: ContentNeed::Skip,
        },
        concurrency: args.jobs.map_or_else(default_concurrency, usize::from),
        delivery: Delivery::InLayerOrder,
    };
    let mut write_error = None;
    let mut listings = Vec::with_capacity(layers.len());
    // Entries of the layer being printed; kept only when an export or the merged view needs
    // them all.
    let mut entries = Vec::new();
    let mut count = 0usize;
    let mut announced = None;
    let mut last_flush = Instant::now();
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(bars) = &bars {
            scope.spawn(|| bars.tick_until(&finished, &progress));
        }
        peek.run(&layers, &progress, &cancel, &mut |event| {
            let Some(position) = event.position() else {
                // The layers went quiet: show what has arrived.
                if print_live && write_error.is_none() {
                    last_flush = Instant::now();
                    if let Err(error) = out.flush() {
                        write_error = Some(error);
                        cancel.cancel();
                    }
                }
                return;
            };
            let layer = &layers[position];
            let mut print = |line: &dyn Fn(&mut dyn Write) -> io::Result<()>| {
                if !print_live || write_error.is_some() {
                    return;
                }
                // A pipe gets big writes, yet never waits long for what already arrived
                // (and the layers going quiet flushes at once, below).
                let written = line(&mut out).and_then(|()| {
                    if last_flush.elapsed() < FLUSH_INTERVAL {
                        return Ok(());
                    }
                    last_flush = Instant::now();
                    out.flush()
                });
                if let Err(error) = written {
                    write_error = Some(error);
                    cancel.cancel();
                }
            };
            if announced != Some(position) {
                announced = Some(position);
                count = 0;
                print(&|out| {
                    writeln!(
                        out,
                        "layer {} {} ({})",
                        layer.index,
                        layer.digest(),
                        human_size(layer.size())
                    )
                });
            }
            match event {
                LayerEvent::Entry(_, entry) => {
                    print(&|out| write_entry(out, None, &entry));
                    count += 1;
                    if keep_entries {
                        entries.push(entry);
                    }
                }
                LayerEvent::Idle => {}
                LayerEvent::Done(_, result) => {
                    if let Some(bars) = &bars {
                        bars.finish(position);
                    }
                    let origin =
                        listed_from_note(result.listed_from, result.bytes_read, layer.size())
                            .map(|how| format!(", {how}"))
                            .unwrap_or_default();
                    if let Some(note) = &result.note {
                        eprintln!(
                            "note: layer {} ({}): {}",
                            layer.index,
                            layer.short_digest(),
                            escape_control(note)
                        );
                    }
                    print(&|out| {
                        writeln!(
                            out,
                            "  ({count} entries, {}{origin})",
                            result.status.label()
                        )
                    });
                    if let Some(message) = result.status.problem() {
                        eprintln!(
                            "warning: {} (kept {count} entries read before it)",
                            escape_control(message)
                        );
                    }
                    listings.push(LayerListing {
                        layer: layer.clone(),
                        entries: std::mem::take(&mut entries),
                        result,
                    });
                }
            }
        });
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    match write_error {
        // The reader went away (`layerslayer peek … | head`): nothing left to tell it.
        Some(error) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(exit_code::OK),
        Some(error) => return Err(stdout_failure(&error)),
        None => {}
    }
    let every_layer_listed = chosen.len() == image.layers.len()
        && listings
            .iter()
            .all(|listing| listing.result.status.is_complete());
    if cache.is_some() && every_layer_listed {
        super::search::record_peeked(&args.image.image, args.image.access.engine, &image);
    }
    let merged = args.merged.then(|| merge_layers(&listings));
    if let Some(csv) = &args.csv {
        let rows = match &merged {
            Some(merged) => output::rows_of_merged(merged, &listings),
            None => output::rows_of_listings(&listings),
        };
        output::write_to(&Destination::from_arg(csv), |out| {
            output::write_csv(&rows, out)
        })?;
    }
    if let Some(json) = &args.json {
        output::write_to(&Destination::from_arg(json), |out| {
            output::write_json(&image, &listings, merged.as_deref(), out)
        })?;
    }
    if let Some(merged) = merged.as_deref().filter(|_| !exports_to_stdout) {
        print_merged(&mut out, listings.len(), merged).map_err(|e| stdout_failure(&e))?;
    }
    out.flush().map_err(|e| stdout_failure(&e))?;
    Ok(listings_exit_code(&listings))
}

/// One listing line: kind, mode, size, path and link target (with a layer tag if given).
pub(crate) fn write_entry(
    out: &mut dyn Write,
    layer: Option<usize>,
    entry: &Entry,
) -> io::Result<()> {
    let target = entry
        .link_target
        .as_deref()
        .map(|t| format!(" -> {}", escape_control(t)))
        .unwrap_or_default();
    let origin = layer.map(|l| format!("[{l}] ")).unwrap_or_default();
    let mark = if entry.has_raw_names() {
        "  [not UTF-8, shown lossily]"
    } else {
        ""
    };
    writeln!(
        out,
        "  {origin}{:<13} {:04o} {:>10}  {}{target}{mark}",
        entry.kind.as_str(),
        entry.mode,
        human_size(entry.size),
        escape_control(&entry.path)
    )
}

pub(crate) fn print_merged(
    out: &mut dyn Write,
    layer_count: usize,
    merged: &[MergedEntry],
) -> io::Result<()> {
    writeln!(
        out,
        "merged filesystem of {layer_count} layers: {} entries",
        merged.len()
    )?;
    for item in merged {
        write_entry(out, Some(item.layer_index), &item.entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn layer_selection_accepts_indexes_and_all() {
        assert_eq!(parse_layer_selection("ALL", 3), Ok(vec![0, 1, 2]));
        assert_eq!(parse_layer_selection("", 2), Ok(vec![0, 1]));
        assert_eq!(parse_layer_selection(" 2, 0 ,2", 3), Ok(vec![0, 2]));
        assert!(
            parse_layer_selection("3", 3)
                .expect_err("out of range")
                .contains("0 to 2")
        );
        assert!(
            parse_layer_selection("x", 3)
                .expect_err("junk")
                .contains("not a layer index")
        );
        assert!(parse_layer_selection(",", 3).is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "layerslayer",
            "peek",
            "alpine",
            "--layers",
            "0,2",
            "--csv",
            "out.csv",
            "--json",
            "--merged",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Peek(args)) => {
                assert_eq!(args.layers.as_deref(), Some("0,2"));
                assert_eq!(args.csv.as_deref(), Some("out.csv"));
                assert_eq!(args.json.as_deref(), Some("-"));
                assert!(args.merged);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            Cli::try_parse_from(["layerslayer"])
                .expect("bare")
                .command
                .is_none()
        );
    }
}
