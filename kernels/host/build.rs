fn main() {
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-changed=../lowlight_kernels.cuh");
    cc::Build::new()
        .file("shim.c")
        .flag_if_supported("-ffp-contract=off")
        .flag_if_supported("-std=c99")
        .opt_level(2)
        .compile("lowlight_kernels_host");
}
