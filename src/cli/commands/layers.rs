//! `layers IMAGE`: the image's layers as a table or JSON.

use std::io::{self, Write};

use crate::cancel::CancelToken;
use crate::cli::args::ImageArgs;
use crate::cli::commands::open;
use crate::cli::exit::{Failure, exit_code};
use crate::oci::ImageInfo;
use crate::output::{escape_control, human_size};

pub(crate) fn run_layers(args: &ImageArgs, json: bool) -> Result<u8, Failure> {
    let cancel = CancelToken::new();
    let image = open(args, &cancel)?.info;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let write_failed = |e: io::Error| {
        Failure::new(
            exit_code::FAILURE,
            format!("could not write to stdout: {e}"),
        )
    };
    if json {
        serde_json::to_writer_pretty(&mut out, &image)
            .map_err(|e| Failure::new(exit_code::FAILURE, e.to_string()))?;
        writeln!(out).map_err(write_failed)?;
    } else {
        print_layer_table(&mut out, &image).map_err(write_failed)?;
    }
    Ok(exit_code::OK)
}

pub(crate) fn print_layer_table(out: &mut dyn Write, image: &ImageInfo) -> io::Result<()> {
    if let Some(platform) = &image.platform {
        let others: Vec<String> = image
            .available_platforms
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "platform {platform} (index offers: {})",
            others.join(", ")
        )?;
    }
    writeln!(
        out,
        "{:>5}  {:<71}  {:>10}  {:<48}  CREATED BY",
        "INDEX", "DIGEST", "SIZE", "MEDIA TYPE"
    )?;
    for layer in &image.layers {
        writeln!(
            out,
            "{:>5}  {:<71}  {:>10}  {:<48}  {}",
            layer.index,
            layer.digest(),
            human_size(layer.size()),
            layer.media_type(),
            escape_control(layer.created_by.as_deref().unwrap_or("-")),
        )?;
    }
    Ok(())
}
