import Foundation
import Testing
import Gradus

/// The `apg` reproduction at a tiny scale: plumbing (tables, claims, JSON, the Fashion-MNIST part when the data set
/// is installed), not the paper's result (that needs `scale: 1`: `gradus repro apg`).
@Suite(.serialized) struct ReproAPGTests {
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"
    static var hasFashionMNIST: Bool { FileManager.default.fileExists(atPath: fashionMNIST + "/train-images-idx3-ubyte.gz") }

    @Test func tinyRunHasEveryPart() throws {
        var o = ReproOptions()
        o.seed = 1
        o.scale = 0.02
        o.outputDirectory = nil
        o.fashionMNISTDirectory = Self.hasFashionMNIST ? Self.fashionMNIST : "/nonexistent-fashion-mnist"
        let report = try DiffusionAPG.run(o) { _ in }
        #expect(report.name == "apg")
        for t in report.tables {
            #expect(!t.rows.isEmpty, "table '\(t.title)' is empty")
            for row in t.rows { #expect(row.count == t.header.count, "table '\(t.title)': row \(row) vs header \(t.header)") }
        }
        let text = report.json.serialized
        #expect(!text.contains("nan") && !text.contains("inf"))
        let fashion = try #require(report.json["fashion_mnist"])
        if Self.hasFashionMNIST {
            #expect(report.tables.count == 3)
            // data row + 2 methods × 5 scales
            #expect(report.tables[2].rows.count == 11)
            #expect(report.claims.filter { $0.claim.hasPrefix("Fashion-MNIST") }.count == 4)
            let rows = try #require(fashion["rows"]?.array)
            for r in rows {
                let acc = try #require(r["accuracy"]?.double), out = try #require(r["outside_fraction"]?.double)
                #expect(acc >= 0 && acc <= 1 && out >= 0 && out <= 1)
            }
        } else {
            #expect(report.tables.count == 2)
            #expect(fashion["skipped"]?.string != nil)
        }
    }
}
