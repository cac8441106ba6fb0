import Foundation
import Testing
import GradusDiffusion
import GradusRuntime

/// Loads `Tests/Fixtures/guidance.json` (a copy of the shared golden file), found via #filePath.
func loadGuidanceGolden() throws -> JSON {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/guidance.json")
    let data = try Data(contentsOf: url)
    return try JSON.parse(bytes: Array(data))
}

/// Case ids of the fixture, for parameterised tests.
let guidanceCaseIDs: [String] = {
    guard let j = try? loadGuidanceGolden(), let cases = j["cases"]?.array else { return [] }
    return cases.compactMap { $0["id"]?.string }
}()

/// Every op of the public file is supported (AlignProp and gauge run through DiffusionExtrasConformance).
let unsupportedOps: Set<String> = []

@Suite struct GuidanceGoldenTests {
    static let golden = try! loadGuidanceGolden()

    static func caseJSON(_ id: String) -> JSON {
        Self.golden["cases"]!.array!.first { $0["id"]?.string == id }!
    }

    @Test func fileHeaderAndAllCasesRun() throws {
        let results = try GuidanceConformance.run(file: Self.golden)
        #expect(results.count == guidanceCaseIDs.count)
        for r in results where !unsupportedOps.contains(r.op) {
            #expect(r.status == .pass, "\(r)")
        }
        for r in results where unsupportedOps.contains(r.op) {
            #expect(r.status == .unsupported, "\(r)")
        }
    }

    @Test(arguments: guidanceCaseIDs)
    func float64(_ id: String) throws {
        let r = try GuidanceConformance.run(case: Self.caseJSON(id), precision: .float64)
        if unsupportedOps.contains(r.op) { #expect(r.status == .unsupported); return }
        #expect(r.status == .pass, "\(r)")
        #expect(r.compared > 0)
    }

    @Test(arguments: guidanceCaseIDs)
    func float32(_ id: String) throws {
        let r = try GuidanceConformance.run(case: Self.caseJSON(id), precision: .float32)
        if unsupportedOps.contains(r.op) { #expect(r.status == .unsupported); return }
        #expect(r.status == .pass, "\(r)")
    }

    @Test func perturbedExpectationFails() throws {
        // The runner must actually compare: corrupt one expected value and see a failure.
        var c = Self.caseJSON("cfg/diffusers/s7.5/rescale0.0").object!
        var outputs = c["outputs"]!.object!
        var pred = outputs["pred"]!.object!
        var data = pred["data"]!.array!
        data[3] = .number(data[3].double! + 1e-3)
        pred["data"] = .array(data); outputs["pred"] = .object(pred); c["outputs"] = .object(outputs)
        let r = try GuidanceConformance.run(case: .object(c))
        #expect(r.status == .fail)
        #expect(r.maxAbsError > 9e-4)
    }

    @Test func malformedCaseThrowsFormat() {
        #expect(throws: GradusError.self) { try GuidanceConformance.run(case: .object(["id": .string("x")])) }
        let bad: JSON = .object(["id": .string("x"), "op": .string("cfg"), "params": .object([:]),
                                 "inputs": .object(["pred_cond": .object(["shape": .array([.number(3)]), "data": .array([.number(1)])])])])
        #expect(throws: GradusError.self) { try GuidanceConformance.run(case: bad) }
    }

    @Test func apgZeroEqualsCFG() throws {
        // Spec §5: apg/0 (η = 1, r = 0, no momentum) equals diffusers-form CFG on its own inputs.
        let c = Self.caseJSON("apg/0/diffusers/s7.5/eta1.0/r0.0/betaNone")
        let conds = c["inputs"]!["pred_cond"]!.array!, unconds = c["inputs"]!["pred_uncond"]!.array!
        let shape = conds[0]["shape"]!.flatDoubles!.map { Int($0) }
        let guider = try APGGuider<Double>(APGConfig(scale: 7.5, eta: 1, normThreshold: 0), shape: shape)
        for i in 0..<conds.count {
            let cd = conds[i]["data"]!.flatDoubles!, ud = unconds[i]["data"]!.flatDoubles!
            let a = try guider(cond: cd, uncond: ud)
            let b = try Guidance.cfg(cond: cd, uncond: ud, shape: shape, scale: 7.5)
            for j in a.indices { #expect(abs(a[j] - b[j]) <= 1e-12 * max(1, abs(b[j]))) }
        }
    }
}
