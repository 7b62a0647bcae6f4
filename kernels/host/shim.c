/*
 * Host build of the CUDA kernels' per-element bodies: a loop over every
 * element stands in for the grid of threads. Compiled with contraction off.
 */
#include "../lowlight_kernels.cuh"

void ll_host_downscale_packed(const ll_u8 *frame, ll_packed f, float *out, int h, int w) {
    for (int c = 0; c < 3; ++c)
        for (int oy = 0; oy < h; ++oy)
            for (int ox = 0; ox < w; ++ox)
                out[((size_t)c * h + oy) * w + ox] = ll_downscale_packed_at(frame, f, h, w, c, oy, ox);
}

void ll_host_enhance_packed(ll_u8 *frame, ll_packed f, const float *low, int h, int w, float strength,
                            int iterations) {
    for (int y = 0; y < f.height; ++y)
        for (int x = 0; x < f.width; ++x) ll_enhance_packed_at(frame, f, low, h, w, strength, iterations, x, y);
}

void ll_host_downscale_nv12(const ll_u8 *yp, const ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k, float *out, int h,
                            int w) {
    for (int c = 0; c < 3; ++c)
        for (int oy = 0; oy < h; ++oy)
            for (int ox = 0; ox < w; ++ox)
                out[((size_t)c * h + oy) * w + ox] = ll_downscale_nv12_at(yp, uvp, f, k, h, w, c, oy, ox);
}

void ll_host_enhance_nv12(ll_u8 *yp, ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k, const float *low, int h, int w,
                          float strength, int iterations) {
    for (int by = 0; by < (f.height + 1) / 2; ++by)
        for (int bx = 0; bx < (f.width + 1) / 2; ++bx)
            ll_enhance_nv12_block(yp, uvp, f, k, low, h, w, strength, iterations, bx, by);
}

void ll_host_depthwise3x3(const float *in, const float *k, float *out, int N, int C, int H, int W) {
    size_t total = (size_t)N * C * H * W;
    for (size_t i = 0; i < total; ++i) {
        int x = i % W, y = (i / W) % H, c = (i / ((size_t)W * H)) % C, n = i / ((size_t)W * H * C);
        out[i] = ll_depthwise3x3_at(in, k, C, H, W, n, c, y, x);
    }
}

void ll_host_depthwise3x3_wgrad(const float *in, const float *g, float *out, int N, int C, int H, int W) {
    for (int c = 0; c < C; ++c)
        for (int tap = 0; tap < 9; ++tap) out[c * 9 + tap] = ll_depthwise3x3_wgrad_partial(in, g, N, C, H, W, c, tap, 0, 1);
}
