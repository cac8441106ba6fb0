import CBLAS
import GradusRuntime

/// Row-major C = α·op(A)·op(B) + β·C for the tensor ops, parallel over the pool yet bitwise the same at
/// every thread count.
///
/// A threaded OpenBLAS GEMM is not bitwise equal to the single-threaded one, and Gradus promises the same
/// loss for the same seed at any thread count. So BLAS stays on one thread, and large products are cut into
/// column tiles of C whose boundaries depend on the shape alone; each tile is one single-threaded BLAS call
/// (every element of C is summed over K by the same kernel in the same order whoever runs it), and the
/// pool's workers take the tiles. Products too narrow for column tiles (fewer than two 512-wide tiles, such as
/// the 5107×200 @ 200×200 layers of the grokking MLP) are cut into row tiles instead: rows of C are
/// independent in the same way, and each tile re-packs only the small op(B). With `GRADUS_BLAS_THREADS` > 1 the product goes to BLAS whole instead
/// (BLAS threads it; the pool is asleep), which is faster on many cores but not reproducible across
/// thread counts.
enum TiledGEMM {
    /// Products below this many multiply-adds run as one call: a tile must pay for waking a worker.
    static let minimumFlops = 1 << 21
    /// Narrowest tile, in columns. OpenBLAS (0.3.21, measured here) runs some narrower column blocks of a wide
    /// row-major B up to 3× slower per flop (128×784 @ 784×256 with ldb 1024: 17 ms for four tiles vs 6 ms
    /// whole), while 512-wide tiles cost at most ~5% over one call.
    static let minimumWidth = 512

    /// Row tiles are a multiple of this many rows. OpenBLAS's Haswell/Zen sgemm kernel blocks M by 24 (dgemm
    /// by 4): with boundaries on multiples of 24 every element of C goes through the same micro-kernel as in one
    /// whole call, so tiling does not change a bit on those kernels (checked on OpenBLAS 0.3.21 Zen for
    /// 5107×200×200, its transposes and odd shapes; 8-, 16- and 32-row tiles do change bits). Elsewhere the
    /// result may differ from an untiled call but is still the same at every thread count.
    static let rowQuantum = 24
    /// Smallest row tile, in multiply-adds: each tile packs op(B) again, so a tile must be large next to it.
    static let minimumRowTileFlops = 1 << 21

    /// Column tile width for an m×n×k product: n when the product is not cut into column tiles.
    static func tileWidth(m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= minimumFlops, n >= 2 * minimumWidth else { return n }
        let tiles = n / minimumWidth
        return Swift.min(((n + tiles - 1) / tiles + 15) / 16 * 16, n)
    }

    /// Row tile height for an m×n×k product that is not cut into column tiles: m when it is not tiled at all.
    /// A multiple of `rowQuantum`, at least `minimumRowTileFlops` per tile; depends on the shape alone.
    static func tileHeight(m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= minimumFlops, n < 2 * minimumWidth, n * k > 0 else { return m }
        let quanta = Swift.max(1, (minimumRowTileFlops + rowQuantum * n * k - 1) / (rowQuantum * n * k))
        let height = quanta * rowQuantum
        return height * 2 <= m ? height : m
    }

    static func run<T: TensorScalar>(_: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                     a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                     beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        let whole = BLASThreading.threadCount > 1
        let width = whole ? n : tileWidth(m: m, n: n, k: k)
        let height = whole || width < n ? m : tileHeight(m: m, n: n, k: k)
        let columnTiles = (n + width - 1) / Swift.max(width, 1)
        let rowTiles = (m + height - 1) / Swift.max(height, 1)
        func tile(_ t: Int) {
            if rowTiles > 1 {
                let i0 = t * height, rows = Swift.min(height, m - i0)
                // Rows i0..<i0+rows of op(A): A stored M×K (no transpose) starts at row i0; stored K×M at column i0.
                let at = a + (transA ? i0 : i0 * lda)
                call(transA: transA, transB: transB, m: rows, n: n, k: k, a: at, lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c + i0 * ldc, ldc: ldc)
                return
            }
            let j0 = t * width, cols = Swift.min(width, n - j0)
            // Columns j0..<j0+cols of op(B): B stored K×N (no transpose) starts at column j0; stored N×K at row j0.
            let bt = b + (transB ? j0 * ldb : j0)
            call(transA: transA, transB: transB, m: m, n: cols, k: k, a: a, lda: lda, b: bt, ldb: ldb,
                 beta: beta, c: c + j0, ldc: ldc)
        }
        let tiles = Swift.max(columnTiles, rowTiles)
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
