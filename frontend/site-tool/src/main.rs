//! `site-tool split INPUT.wasm PKG_DIR MAIN_OUT.wasm NAME`: splits the WASM that rustc
//! linked (with `--emit-relocs`) where the app marks lazy parts (`#[lazy]`, lazy routes):
//! each part and the code parts share go to PKG_DIR as `split_*.wasm` / `chunk_*.wasm`
//! with the loader they need, the rest to MAIN_OUT.wasm for wasm-bindgen, and
//! `__wasm_split_manifest.json` tells the server which files each part needs, so a page
//! that renders one preloads them.
//!
//! `site-tool precompress DIR`: writes `F.br` (brotli, quality 11) and `F.gz` (gzip, level
//! 9) beside every `.wasm`, `.js` and `.css` file in DIR, which the dashboard then serves
//! as they are (`ServeDir::precompressed_*`) to browsers that accept them.
//!
//! Why at build time: compressing on the fly uses a fast level (brotli 4), which gave the
//! dashboard's 2.56 MB WASM as 620 KB; quality 11 gives 501 KB, but takes seconds, once.

use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [verb, dir] if verb == "precompress" => {
            if let Err(e) = precompress(Path::new(dir)) {
                eprintln!("site-tool: {e}");
                std::process::exit(1);
            }
        }
        [verb, input, pkg, main_out, name] if verb == "split" => {
            if let Err(e) = split(Path::new(input), Path::new(pkg), Path::new(main_out), name) {
                eprintln!("site-tool: {e}");
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: site-tool precompress DIR | split INPUT.wasm PKG_DIR MAIN_OUT.wasm NAME");
            std::process::exit(2);
        }
    }
}

fn precompress(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let compressible =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "wasm" | "js" | "css"));
        if !compressible || !path.is_file() {
            continue;
        }
        let raw = std::fs::read(&path)?;
        let mut br = Vec::new();
        {
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut raw.as_slice(), &mut br, &params)?;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw)?;
        let gz = gz.finish()?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        std::fs::write(dir.join(format!("{name}.br")), &br)?;
        std::fs::write(dir.join(format!("{name}.gz")), &gz)?;
        println!("{name}: {} raw, {} brotli, {} gzip", raw.len(), br.len(), gz.len());
    }
    Ok(())
}

fn split(input: &Path, pkg: &Path, main_out: &Path, name: &str) -> Result<(), String> {
    let wasm = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let main_module = format!("./{name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = pkg;
    options.main_out_path = main_out;
    options.main_module = &main_module;
    // The name Leptos's server looks for when it preloads a lazy part's files.
    options.link_name = "./__wasm_split.______________________.js";
    let split = wasm_split_cli_support::transform(options).map_err(|e| format!("{e:#}"))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map).map_err(|e| e.to_string())?;
    std::fs::write(pkg.join("__wasm_split_manifest.json"), manifest).map_err(|e| e.to_string())?;
    for module in &split.split_modules {
        let bytes = std::fs::read(module).map_err(|e| format!("{}: {e}", module.display()))?;
        let stripped =
            without_custom_sections(&bytes).ok_or_else(|| format!("{}: not a WASM module", module.display()))?;
        let compacted = reencoded(&stripped).map_err(|e| format!("{}: {e}", module.display()))?;
        std::fs::write(module, &compacted).map_err(|e| e.to_string())?;
        println!(
            "{}: {} raw ({} before its names were removed, {} before it was re-encoded)",
            module.display(),
            compacted.len(),
            bytes.len(),
            stripped.len()
        );
    }
    Ok(())
}

/// The module with each instruction encoded again. The splitter copies the parts' code as
/// the linker emitted it for relocation: every function index and address a padded
/// 5-byte number, which wasm-bindgen compacts in the main part but nothing did in the
/// parts.
fn reencoded(wasm: &[u8]) -> Result<Vec<u8>, String> {
    use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
    let mut module = wasm_encoder::Module::new();
    RoundtripReencoder.parse_core_module(&mut module, wasmparser::Parser::new(0), wasm).map_err(|e| e.to_string())?;
    Ok(module.finish())
}

/// The module without its custom sections (function names, producers, target features):
/// wasm-bindgen strips the main module's; the parts never pass through it, and their
/// names were half their size.
fn without_custom_sections(wasm: &[u8]) -> Option<Vec<u8>> {
    let (header, mut rest) = (wasm.get(..8)?, wasm.get(8..)?);
    let mut out = header.to_vec();
    while let Some((&id, after_id)) = rest.split_first() {
        let (size, after_size) = leb128(after_id)?;
        let next = after_size.get(size..)?;
        if id != 0 {
            // The section whole: its id, its size and its contents.
            out.extend_from_slice(&rest[..rest.len() - next.len()]);
        }
        rest = next;
    }
    Some(out)
}

/// An unsigned LEB128 number and what follows it.
fn leb128(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut value = 0usize;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}
