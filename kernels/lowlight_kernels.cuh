/*
 * Per-pixel bodies of lowlight's GPU kernels, shared by the CUDA kernels
 * (lowlight.cu) and a host build used in tests (host/shim.c), so that
 * indexing, pitches and rounding are proved on machines without a GPU.
 *
 * Every function here computes one output element from plain pointers and
 * pitches; the callers map thread indices (CUDA) or loop counters (host) to
 * element coordinates. The arithmetic follows the Rust CPU path
 * (src/ops/resample.rs, src/ops/curve.rs, src/ops/yuv.rs): fmaf where the CPU
 * path fuses, plain operations elsewhere (compile with contraction off).
 */
#ifndef LOWLIGHT_KERNELS_CUH
#define LOWLIGHT_KERNELS_CUH

#ifdef __CUDACC__
#define LL_FN __host__ __device__ static inline
#else
#include <math.h>
#include <stddef.h>
#define LL_FN static inline
#endif

typedef unsigned char ll_u8;

/* One output position of a 1-D bilinear resampling (PyTorch conventions). */
typedef struct {
    int i0, i1;
    float w0, w1;
} ll_tap;

LL_FN ll_tap ll_bilinear_tap(int input, int output, int o, int align_corners) {
    float scale, src;
    ll_tap t;
    if (align_corners) {
        scale = output > 1 ? (float)(input - 1) / (float)(output - 1) : 0.0f;
        src = scale * (float)o;
    } else {
        scale = (float)input / (float)output;
        src = fmaxf(scale * ((float)o + 0.5f) - 0.5f, 0.0f);
    }
    t.i0 = (int)src;
    if (t.i0 > input - 1) t.i0 = input - 1;
    t.i1 = t.i0 < input - 1 ? t.i0 + 1 : t.i0;
    t.w1 = fminf(fmaxf(src - (float)t.i0, 0.0f), 1.0f);
    t.w0 = 1.0f - t.w1;
    return t;
}

/* v / 255, correctly rounded (as the reference normalises). */
LL_FN float ll_unit(ll_u8 v) { return (float)v / 255.0f; }

/* iterations x  x = x + r (x^2 - x) */
LL_FN float ll_curve(float x, float r, int iterations) {
    for (int i = 0; i < iterations; ++i) x = fmaf(r, fmaf(x, x, -x), x);
    return x;
}

/* floor(clamp(x, 0, 1) * 255 + 0.5); NaN maps to 0. */
LL_FN ll_u8 ll_to_byte(float x) {
    x = fminf(fmaxf(x, 0.0f), 1.0f);
    return (ll_u8)(int)(x * 255.0f + 0.5f);
}

/* The factor map of channel c at a frame position: planar low-res map
 * [3][h][w], interpolated horizontally then vertically, scaled by strength. */
LL_FN float ll_factor(const float *low, int h, int w, int c, ll_tap tx, ll_tap ty, float strength) {
    const float *p = low + (size_t)c * h * w;
    float top = (p[ty.i0 * w + tx.i0] * strength) * tx.w0 + (p[ty.i0 * w + tx.i1] * strength) * tx.w1;
    float bottom = (p[ty.i1 * w + tx.i0] * strength) * tx.w0 + (p[ty.i1 * w + tx.i1] * strength) * tx.w1;
    return fmaf(bottom, ty.w1, top * ty.w0);
}

/* ---- packed 8-bit RGB family ------------------------------------------ */

/* Describes a packed frame: bytes per pixel and the byte offsets of R, G, B. */
typedef struct {
    int width, height, pitch, bpp;
    int off[3];
} ll_packed;

/* One value of the low-res EFE input [3][h][w] (bilinear, align_corners = false). */
LL_FN float ll_downscale_packed_at(const ll_u8 *frame, ll_packed f, int h, int w, int c, int oy, int ox) {
    ll_tap ty = ll_bilinear_tap(f.height, h, oy, 0);
    ll_tap tx = ll_bilinear_tap(f.width, w, ox, 0);
    const ll_u8 *r0 = frame + (size_t)ty.i0 * f.pitch;
    const ll_u8 *r1 = frame + (size_t)ty.i1 * f.pitch;
    int o = f.off[c];
    float top = ll_unit(r0[tx.i0 * f.bpp + o]) * tx.w0 + ll_unit(r0[tx.i1 * f.bpp + o]) * tx.w1;
    float bottom = ll_unit(r1[tx.i0 * f.bpp + o]) * tx.w0 + ll_unit(r1[tx.i1 * f.bpp + o]) * tx.w1;
    return top * ty.w0 + bottom * ty.w1;
}

/* Enhances pixel (x, y) of a packed frame in place; alpha/padding untouched. */
LL_FN void ll_enhance_packed_at(ll_u8 *frame, ll_packed f, const float *low, int h, int w, float strength,
                                int iterations, int x, int y) {
    ll_tap tx = ll_bilinear_tap(w, f.width, x, 1);
    ll_tap ty = ll_bilinear_tap(h, f.height, y, 1);
    ll_u8 *p = frame + (size_t)y * f.pitch + (size_t)x * f.bpp;
    for (int c = 0; c < 3; ++c) {
        float r = ll_factor(low, h, w, c, tx, ty, strength);
        p[f.off[c]] = ll_to_byte(ll_curve(ll_unit(p[f.off[c]]), r, iterations));
    }
}

/* ---- planar YUV ---------------------------------------------------------- */

/* Matrix and range (see src/ops/yuv.rs::Coeffs). */
typedef struct {
    float kr, kb, kg, y_off, y_steps, c_steps;
} ll_yuv_coeffs;

LL_FN void ll_yuv_to_rgb(ll_yuv_coeffs k, ll_u8 y, float u, float v, float rgb[3]) {
    float ys = 1.0f / k.y_steps, cs = 1.0f / k.c_steps;
    float rv = 2.0f * (1.0f - k.kr) * cs, bu = 2.0f * (1.0f - k.kb) * cs;
    float gu = -k.kb * bu / k.kg, gv = -k.kr * rv / k.kg;
    float yy = ((float)y - k.y_off) * ys;
    float cu = u - 128.0f, cv = v - 128.0f;
    rgb[0] = fminf(fmaxf(yy + rv * cv, 0.0f), 1.0f);
    rgb[1] = fminf(fmaxf(yy + gu * cu + gv * cv, 0.0f), 1.0f);
    rgb[2] = fminf(fmaxf(yy + bu * cu, 0.0f), 1.0f);
}

/* NV12 (semi-planar 4:2:0): Y plane and interleaved UV plane. */
typedef struct {
    int width, height, y_pitch, uv_pitch;
} ll_nv12;

/* One value of the low-res EFE input from an NV12 frame. */
LL_FN float ll_downscale_nv12_at(const ll_u8 *yp, const ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k, int h, int w, int c,
                                 int oy, int ox) {
    ll_tap ty = ll_bilinear_tap(f.height, h, oy, 0);
    ll_tap tx = ll_bilinear_tap(f.width, w, ox, 0);
    int ys[2] = {ty.i0, ty.i1}, xs[2] = {tx.i0, tx.i1};
    float v[4];
    for (int a = 0; a < 2; ++a) {
        for (int b = 0; b < 2; ++b) {
            const ll_u8 *uv = uvp + (size_t)(ys[a] / 2) * f.uv_pitch + 2 * (xs[b] / 2);
            float rgb[3];
            ll_yuv_to_rgb(k, yp[(size_t)ys[a] * f.y_pitch + xs[b]], (float)uv[0], (float)uv[1], rgb);
            v[a * 2 + b] = rgb[c];
        }
    }
    float top = v[0] * tx.w0 + v[1] * tx.w1;
    float bottom = v[2] * tx.w0 + v[3] * tx.w1;
    return top * ty.w0 + bottom * ty.w1;
}

/* Enhances the 2x2 block (bx, by) of an NV12 frame in place: each pixel is
 * converted to RGB with the block's chroma, curved, converted back; the new
 * chroma is the mean over the block's pixels. */
LL_FN void ll_enhance_nv12_block(ll_u8 *yp, ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k, const float *low, int h, int w,
                                 float strength, int iterations, int bx, int by) {
    ll_u8 *uv = uvp + (size_t)by * f.uv_pitch + 2 * bx;
    float u = (float)uv[0], v = (float)uv[1];
    float sum_cb = 0.0f, sum_cr = 0.0f, n = 0.0f;
    float kb2 = 1.0f / (2.0f * (1.0f - k.kb)), kr2 = 1.0f / (2.0f * (1.0f - k.kr));
    for (int dy = 0; dy < 2; ++dy) {
        int y = 2 * by + dy;
        if (y >= f.height) break;
        ll_tap ty = ll_bilinear_tap(h, f.height, y, 1);
        /* the CPU path sums the row's two pixels first, then adds the row */
        float row_cb = 0.0f, row_cr = 0.0f;
        for (int dx = 0; dx < 2; ++dx) {
            int x = 2 * bx + dx;
            if (x >= f.width) break;
            ll_tap tx = ll_bilinear_tap(w, f.width, x, 1);
            ll_u8 *py = yp + (size_t)y * f.y_pitch + x;
            float rgb[3];
            ll_yuv_to_rgb(k, *py, u, v, rgb);
            for (int c = 0; c < 3; ++c) {
                float r = ll_factor(low, h, w, c, tx, ty, strength);
                rgb[c] = fminf(fmaxf(ll_curve(rgb[c], r, iterations), 0.0f), 1.0f);
            }
            float yy = k.kr * rgb[0] + k.kg * rgb[1] + k.kb * rgb[2];
            float code = fminf(fmaxf(yy * k.y_steps + k.y_off + 0.5f, 0.0f), 255.0f);
            *py = (ll_u8)(int)code;
            row_cb += (rgb[2] - yy) * kb2;
            row_cr += (rgb[0] - yy) * kr2;
            n += 1.0f;
        }
        sum_cb += row_cb;
        sum_cr += row_cr;
    }
    uv[0] = (ll_u8)(int)fminf(fmaxf((sum_cb / n) * k.c_steps + 128.0f + 0.5f, 0.0f), 255.0f);
    uv[1] = (ll_u8)(int)fminf(fmaxf((sum_cr / n) * k.c_steps + 128.0f + 0.5f, 0.0f), 255.0f);
}

/* ---- depthwise 3x3 convolution (stride 1, zero padding 1) --------------- */

/* out[n][c][y][x] of x [N][C][H][W] and k [C][3][3] (no bias). */
LL_FN float ll_depthwise3x3_at(const float *in, const float *k, int C, int H, int W, int n, int c, int y, int x) {
    const float *p = in + ((size_t)n * C + c) * H * W;
    const float *kc = k + (size_t)c * 9;
    float acc = 0.0f;
    for (int i = 0; i < 3; ++i) {
        int sy = y + i - 1;
        if (sy < 0 || sy >= H) continue;
        for (int j = 0; j < 3; ++j) {
            int sx = x + j - 1;
            if (sx < 0 || sx >= W) continue;
            acc = fmaf(kc[i * 3 + j], p[sy * W + sx], acc);
        }
    }
    return acc;
}

/* Part of the weight gradient of the depthwise 3x3 convolution above:
 * dk[c][tap] = sum over n, y, x of g[n][c][y][x] * in[n][c][y + i - 1][x + j - 1]
 * (tap = 3 i + j, zero padding), summed over the flattened positions
 * p = n * H * W + y * W + x taken as start, start + step, ... < N * H * W.
 * The CUDA kernel gives each thread of a block one start and adds the
 * partial sums; the host build takes start 0, step 1. */
LL_FN float ll_depthwise3x3_wgrad_partial(const float *in, const float *g, int N, int C, int H, int W, int c, int tap,
                                          size_t start, size_t step) {
    int i = tap / 3, j = tap % 3;
    size_t plane = (size_t)H * W, total = (size_t)N * plane;
    float acc = 0.0f;
    for (size_t p = start; p < total; p += step) {
        size_t n = p / plane, rem = p % plane;
        int y = (int)(rem / W), x = (int)(rem % W);
        int sy = y + i - 1, sx = x + j - 1;
        if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
        size_t base = (n * C + c) * plane;
        acc = fmaf(g[base + (size_t)y * W + x], in[base + (size_t)sy * W + sx], acc);
    }
    return acc;
}

#endif
