//! Build script of the core. Without the `cuda` feature it does nothing.
//!
//! With `cuda`, nvcc compiles `kernels/lowlight.cu` to PTX in `OUT_DIR`
//! (`lowlight.ptx`, embedded by `src/cuda/kernels.rs` with `include_str!`
//! and loaded by the driver at run time). Settings:
//!
//! - `NVCC`: the compiler; else `$CUDA_HOME/bin/nvcc` (or `CUDA_PATH`,
//!   `CUDA_ROOT`), else `nvcc` on `PATH`. Missing: the build stops and says
//!   how to get one (`scripts/cuda-toolchain.sh`).
//! - `CUDA_COMPUTE_CAP`: the virtual architecture of the PTX, e.g. `80` or
//!   `8.6`; else the first GPU's capability from `nvidia-smi`, else the oldest
//!   architecture this nvcc supports. PTX runs (JIT-compiled by the driver)
//!   on any GPU of that capability or newer.
//!
//! nvcc runs with `--fmad=false`: only the kernels' explicit `fmaf` calls
//! fuse, as on the CPU path (the host build of the same kernels,
//! `kernels/host`, is compiled with contraction off for the same reason).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    for f in ["kernels/lowlight.cu", "kernels/lowlight_kernels.cuh"] {
        println!("cargo:rerun-if-changed={f}");
    }
    for v in ["NVCC", "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDA_COMPUTE_CAP", "PATH"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    let nvcc = find_nvcc().unwrap_or_else(|| {
        fail(
            "the `cuda` feature needs nvcc (the CUDA compiler) to build the kernels, and none was found \
             (looked at $NVCC, $CUDA_HOME/bin, $CUDA_PATH/bin, $CUDA_ROOT/bin and PATH). Install a CUDA \
             toolkit, or run `bash scripts/cuda-toolchain.sh` and source the env file it prints, or \
             build without `--features cuda`.",
        )
    });
    let arch = compute_cap(&nvcc);
    let source = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("kernels/lowlight.cu");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("lowlight.ptx");
    let output = Command::new(&nvcc)
        .args(["-ptx", "--fmad=false", "-O3", "-std=c++17"])
        .arg(format!("-arch=compute_{arch}"))
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run {}: {e}", nvcc.display())));
    if !output.status.success() {
        fail(&format!(
            "{} failed to compile kernels/lowlight.cu for compute_{arch} ({}):\n{}{}",
            nvcc.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let ptx = std::fs::read_to_string(&out).unwrap_or_default();
    for kernel in KERNELS {
        if !ptx.contains(&format!(".entry {kernel}(")) {
            fail(&format!("{} holds no kernel {kernel}", out.display()));
        }
    }
}

/// Entry points that `src/cuda` launches.
const KERNELS: [&str; 6] = [
    "ll_downscale_packed",
    "ll_enhance_packed",
    "ll_downscale_nv12",
    "ll_enhance_nv12",
    "ll_depthwise3x3",
    "ll_depthwise3x3_wgrad",
];

fn fail(message: &str) -> ! {
    eprintln!("error: lowlight (feature cuda): {message}");
    panic!("lowlight (feature cuda): {message}");
}

fn find_nvcc() -> Option<PathBuf> {
    if let Some(p) = env::var_os("NVCC") {
        return Some(PathBuf::from(p));
    }
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        if let Some(root) = env::var_os(var) {
            let p = Path::new(&root).join("bin").join("nvcc");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    env::split_paths(&env::var_os("PATH")?).map(|d| d.join("nvcc")).find(|p| p.is_file())
}

/// `CUDA_COMPUTE_CAP` ("80", "8.6", "sm_86"), else nvidia-smi, else the oldest
/// architecture nvcc knows.
fn compute_cap(nvcc: &Path) -> String {
    if let Ok(v) = env::var("CUDA_COMPUTE_CAP") {
        let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() < 2 {
            fail(&format!("CUDA_COMPUTE_CAP={v:?} is not a compute capability such as 80 or 8.6"));
        }
        return digits;
    }
    let smi = Command::new("nvidia-smi").args(["--query-gpu=compute_cap", "--format=csv,noheader"]).output();
    if let Ok(o) = smi
        && o.status.success()
        && let Some(line) = String::from_utf8_lossy(&o.stdout).lines().next()
    {
        let digits: String = line.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() >= 2 {
            return digits;
        }
    }
    let list = Command::new(nvcc).arg("--list-gpu-arch").output();
    if let Ok(o) = list
        && let Some(oldest) = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("compute_"))
            .filter_map(|d| d.parse::<u32>().ok())
            .min()
    {
        println!(
            "cargo:warning=CUDA_COMPUTE_CAP is not set and nvidia-smi found no GPU: the kernels' PTX targets \
             compute_{oldest}, the oldest this nvcc supports"
        );
        return oldest.to_string();
    }
    fail("CUDA_COMPUTE_CAP is not set and neither nvidia-smi nor `nvcc --list-gpu-arch` gave an architecture; set it (e.g. 80)")
}
