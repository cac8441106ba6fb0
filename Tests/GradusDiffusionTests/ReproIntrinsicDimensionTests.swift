import Foundation
import Testing
import Gradus

/// The `intrinsic-dimension` reproduction at a tiny scale: plumbing (tables, claims, JSON metrics), not the result
/// (that needs `scale: 1`: `gradus repro intrinsic-dimension`).
@Suite(.serialized) struct ReproIntrinsicDimensionTests {
    @Test func tinyRunHasEveryPart() throws {
        var o = ReproOptions()
        o.seed = 1
        o.scale = 0.02
        o.outputDirectory = nil
        let report = try DiffusionIntrinsicDimension.run(o) { _ in }
        #expect(report.name == "intrinsic-dimension")
        #expect(report.tables.count == 3)
        for t in report.tables {
            #expect(!t.rows.isEmpty, "table '\(t.title)' is empty")
            for row in t.rows { #expect(row.count == t.header.count, "table '\(t.title)': row \(row) vs header \(t.header)") }
        }
        #expect(report.tables[2].rows.count == 2)
        #expect(report.claims.count == 5)
        let text = report.json.serialized
        #expect(!text.contains("nan") && !text.contains("inf"))
        // The conservative field is a gradient at any training stage: its Jacobian is symmetric to float32 rounding.
        let asym = try #require(report.json["trained_jacobian_asymmetry"]?.array)
        #expect(asym.count == 2)
        #expect(try #require(asym[1].double) < 1e-5)
        let heldOut = try #require(report.json["trained_held_out_dsm_loss"]?.array)
        #expect(heldOut.count == 2 && heldOut.allSatisfy { ($0.double ?? -1) > 0 })
    }
}
