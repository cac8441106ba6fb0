import CBLAS
import GradusRuntime

/// Row-major C = α·op(A)·op(B) + β·C for the tensor ops, parallel over the pool yet bitwise the same at
/// every thread count.
///
/// A threaded OpenBLAS GEMM is not bitwise equal to the single-threaded one, and Gradus promises the same
/// loss for the same seed at any thread count. So BLAS stays on one thread, and large products are cut into
/// column tiles of C whose boundaries depend on the shape alone; each tile is one single-threaded BLAS call
/// (every element of C is summed over K by the same kernel in the same order whoever runs it), and the
/// pool's workers take the tiles. With `GRADUS_BLAS_THREADS` > 1 the product goes to BLAS whole instead
/// (BLAS threads it; the pool is asleep), which is faster on many cores but not reproducible across
/// thread counts.
enum TiledGEMM {
    /// Products below this many multiply-adds run as one call: a tile must pay for waking a worker.
    static let minimumFlops = 1 << 21
    /// Narrowest tile, in columns. OpenBLAS (0.3.21, measured here) runs some narrower column blocks of a wide
    /// row-major B up to 3× slower per flop (128×784 @ 784×256 with ldb 1024: 17 ms for four tiles vs 6 ms
    /// whole), while 512-wide tiles cost at most ~5% over one call.
    static let minimumWidth = 512

    /// Column tile width for an m×n×k product: n when the product is not tiled.
    static func tileWidth(m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= minimumFlops, n >= 2 * minimumWidth else { return n }
        let tiles = n / minimumWidth
        return Swift.min(((n + tiles - 1) / tiles + 15) / 16 * 16, n)
    }

    static func run<T: TensorScalar>(_: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                     a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                     beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        let width = BLASThreading.threadCount > 1 ? n : tileWidth(m: m, n: n, k: k)
        let tiles = (n + width - 1) / Swift.max(width, 1)
        func tile(_ t: Int) {
            let j0 = t * width, cols = Swift.min(width, n - j0)
            // Columns j0..<j0+cols of op(B): B stored K×N (no transpose) starts at column j0; stored N×K at row j0.
            let bt = b + (transB ? j0 * ldb : j0)
            call(transA: transA, transB: transB, m: m, n: cols, k: k, a: a, lda: lda, b: bt, ldb: ldb,
                 beta: beta, c: c + j0, ldc: ldc)
        }
        if tiles <= 1 { tile(0); return }
        ThreadPool.shared.parallelFor(tiles, grain: 1) { range, _ in for t in range { tile(t) } }
    }

    @inline(__always)
    static func call<T: TensorScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                      a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                      beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        if T.self == Float.self {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), 1,
                        UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), Int32(lda),
                        UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), Int32(ldb), Float(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), Int32(ldc))
        } else {
            cblas_dgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), 1,
                        UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), Int32(lda),
                        UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), Int32(ldb), Double(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), Int32(ldc))
        }
    }
}
