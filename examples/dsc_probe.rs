//! Times one fused EFE layer on a 90x160 grid: `dsc_probe CIN COUT [THREADS] [H W]`.
use std::time::Instant;
use lowlight::ops::dsc::{Activation, FusedDsc};
fn main() {
    let arg = |i: usize, d: usize| std::env::args().nth(i).map_or(d, |s| s.parse().unwrap());
    let (cin, cout, threads, h, w) = (arg(1, 32), arg(2, 32), arg(3, 1), arg(4, 90), arg(5, 160));
    let v = |n: usize, s: usize| (0..n).map(|i| ((i * 7919 + s) % 2001) as f32 / 1000.0 - 1.0).collect::<Vec<f32>>();
    let layer = FusedDsc::new((cin, cout), v(cin * 9, 1), v(cin, 2), &v(cin * cout, 3).iter().map(|x| x * 0.2).collect::<Vec<_>>(), &v(cout, 4), Activation::Relu).unwrap();
    let input = v(cin * h * w, 5);
    let mut out = vec![0f32; cout * h * w];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let n = 2000;
        let mut times = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            layer.run_into(&[(&input, cin)], h, w, &mut out).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!("{cin}->{cout} {h}x{w} {threads} threads: median {:.3} ms, min {:.3} ms", times[n / 2], times[0]);
    });
}
