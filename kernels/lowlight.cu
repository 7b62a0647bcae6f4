/*
 * lowlight's CUDA kernels: thread indices -> element coordinates, then the
 * shared per-element bodies of lowlight_kernels.cuh. Compiled to PTX at build
 * time (feature `cuda`, see build.rs); nvcc runs with --fmad=false so that
 * only the explicit fmaf calls fuse, as on the CPU.
 */
#include "lowlight_kernels.cuh"

extern "C" __global__ void ll_downscale_packed(const ll_u8 *frame, ll_packed f, float *out, int h, int w) {
    int ox = blockIdx.x * blockDim.x + threadIdx.x;
    int oy = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (ox >= w || oy >= h) return;
    out[((size_t)c * h + oy) * w + ox] = ll_downscale_packed_at(frame, f, h, w, c, oy, ox);
}

extern "C" __global__ void ll_enhance_packed(ll_u8 *frame, ll_packed f, const float *low, int h, int w,
                                             float strength, int iterations) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= f.width || y >= f.height) return;
    ll_enhance_packed_at(frame, f, low, h, w, strength, iterations, x, y);
}

extern "C" __global__ void ll_downscale_nv12(const ll_u8 *yp, const ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k,
                                             float *out, int h, int w) {
    int ox = blockIdx.x * blockDim.x + threadIdx.x;
    int oy = blockIdx.y * blockDim.y + threadIdx.y;
    int c = blockIdx.z;
    if (ox >= w || oy >= h) return;
    out[((size_t)c * h + oy) * w + ox] = ll_downscale_nv12_at(yp, uvp, f, k, h, w, c, oy, ox);
}

extern "C" __global__ void ll_enhance_nv12(ll_u8 *yp, ll_u8 *uvp, ll_nv12 f, ll_yuv_coeffs k, const float *low,
                                           int h, int w, float strength, int iterations) {
    int bx = blockIdx.x * blockDim.x + threadIdx.x;
    int by = blockIdx.y * blockDim.y + threadIdx.y;
    if (bx >= (f.width + 1) / 2 || by >= (f.height + 1) / 2) return;
    ll_enhance_nv12_block(yp, uvp, f, k, low, h, w, strength, iterations, bx, by);
}

extern "C" __global__ void ll_depthwise3x3(const float *in, const float *k, float *out, int N, int C, int H, int W) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)N * C * H * W;
    if (i >= total) return;
    int x = i % W, y = (i / W) % H, c = (i / ((size_t)W * H)) % C, n = i / ((size_t)W * H * C);
    out[i] = ll_depthwise3x3_at(in, k, C, H, W, n, c, y, x);
}

/* Weight gradient of the depthwise 3x3 convolution: one block per (channel,
 * tap), blockDim.x a power of two (LL_WGRAD_THREADS); each thread sums a
 * strided share of the positions, then the block adds the shares. */
#define LL_WGRAD_THREADS 256
extern "C" __global__ void ll_depthwise3x3_wgrad(const float *in, const float *g, float *out, int N, int C, int H,
                                                 int W) {
    __shared__ float part[LL_WGRAD_THREADS];
    int c = blockIdx.x / 9, tap = blockIdx.x % 9;
    if (c >= C) return;
    part[threadIdx.x] =
        ll_depthwise3x3_wgrad_partial(in, g, N, C, H, W, c, tap, (size_t)threadIdx.x, (size_t)blockDim.x);
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}
