import Foundation
import GradusQuant
import GradusRuntime
import Testing

/// Golden file copied from the shared reference set (spec/lowbit.md); found relative to this file.
func lowbitGoldenText() throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/lowbit.json")
    return try String(contentsOf: url, encoding: .utf8)
}

@Suite struct QuantConformanceTests {
    @Test(arguments: [QuantConformance.Precision.float64, .float32])
    func everyGoldenCasePasses(precision: QuantConformance.Precision) throws {
        let results = try QuantConformance.runFile(try lowbitGoldenText(), precision: precision)
        #expect(results.count >= 34)
        for r in results {
            #expect(r.status == .pass, "\(r)")
        }
    }

    @Test func unknownOpIsUnsupported() throws {
        let c = try JSON.parse(#"{"id":"x","op":"no_such_op","params":{},"inputs":{},"outputs":{},"tol":{}}"#)
        let r = try QuantConformance.run(case: c)
        #expect(r.status == .unsupported)
    }

    @Test func tamperedOutputFails() throws {
        let doc = try JSON.parse(try lowbitGoldenText())
        guard case .object(var c) = doc["cases"]![0]!, case .object(var outs) = c["outputs"]! else { Issue.record("shape"); return }
        outs["dequantized"] = .object(["shape": .array([.number(1)]), "data": .array([.number(123)])])
        c["outputs"] = .object(outs)
        let r = try QuantConformance.run(case: .object(c))
        #expect(r.status == .fail)
    }
}
