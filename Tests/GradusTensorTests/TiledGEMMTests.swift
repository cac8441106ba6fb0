// How TiledGEMM cuts a product: column tiles for wide products, row tiles for narrow ones, boundaries that depend on
// the shape alone (never the thread count), row boundaries on multiples of OpenBLAS's M-blocking.
@testable import GradusTensor
import Testing

@Suite struct TiledGEMMTests {
    @Test func smallProductsAreNotTiled() {
        #expect(TiledGEMM.tileWidth(m: 10, n: 100, k: 100) == 100)
        #expect(TiledGEMM.tileHeight(m: 10, n: 100, k: 100) == 10)
    }

    @Test func wideProductsGetColumnTiles() {
        let w = TiledGEMM.tileWidth(m: 128, n: 1024, k: 784)
        #expect(w < 1024 && w % 16 == 0)
    }

    /// The grokking MLP's layers: 5107×200 @ 200×200 and its weight gradient (200×5107 @ 5107×200).
    @Test(arguments: [(5107, 200, 200), (200, 200, 5107), (5107, 113, 200), (200, 113, 5107), (300, 64, 700)])
    func narrowProductsGetRowTiles(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(TiledGEMM.tileWidth(m: m, n: n, k: k) == n)
        let h = TiledGEMM.tileHeight(m: m, n: n, k: k)
        #expect(h % TiledGEMM.rowQuantum == 0)
        #expect(h * 2 <= m)
        #expect(h * n * k >= TiledGEMM.minimumRowTileFlops)
    }

    @Test func rowTilesNeedTwoOfThem() {
        // 96 rows would be one tile of the 96-row height: left whole.
        #expect(TiledGEMM.tileHeight(m: 96, n: 150, k: 150) == 96)
        #expect(TiledGEMM.tileHeight(m: 200, n: 150, k: 150) == 96)
    }
}
