// `QuantTrainingOptions` (what `gradus train --quant ...` parses) and the CLI's behaviour on good and bad
// low-bit configurations.
import Foundation
import Gradus
import Testing

@Suite struct QuantizedTrainingOptionsTests {
    static func mlp(_ sizes: [Int]) throws -> SequentialModel {
        var layers: [Module] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(try Linear(sizes[i], sizes[i + 1], seed: UInt64(i + 1)))
            if i < sizes.count - 2 { layers.append(ReLU()) }
        }
        return SequentialModel(layers)
    }

    static func message(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as GradusError {
            if case .invalidArgument = e { return e.message }
            return "unexpected \(e)"
        } catch { return "unexpected \(error)" }
    }

    @Test func int4PerGroupQuantizesEveryLinearAndTrains() throws {
        let model = try Self.mlp([32, 16, 4])
        let o = QuantTrainingOptions(format: "int4", groupSize: 16, quantizesActivations: true)
        let (q, paths) = try o.apply(to: model)
        #expect(paths == ["layers.0", "layers.2"])
        #expect(q.quantizedLayers.count == 2)
        #expect(q.namedParameters().map(\.0) == model.namedParameters().map(\.0))
        let scheme = try o.makeLayerQuantization()
        #expect(scheme.weights == .fake(QuantConfig(bits: 4, granularity: .perGroup(size: 16))))
        #expect(scheme.activations == scheme.weights)
        let x = Tensor.normal([8, 32], seed: 3)
        let loss = try q(x).square().mean()
        try loss.backward()
        #expect(model.parameters.allSatisfy { $0.grad != nil })
    }

    @Test func defaultsPerFormat() throws {
        #expect(try QuantTrainingOptions(format: "int8").makeLayerQuantization().weights == .fake(QuantConfig(bits: 8, granularity: .perChannel(axis: 0))))
        #expect(try QuantTrainingOptions(format: "int8", granularity: "tensor").makeLayerQuantization().weights == .fake(QuantConfig(bits: 8)))
        #expect(try QuantTrainingOptions(format: "nf4").makeLayerQuantization().weights
            == .fake(QuantConfig(bits: 4, format: .nf4, granularity: .perGroup(size: 64))))
        #expect(try QuantTrainingOptions(format: "fp4").makeLayerQuantization().weights
            == .fake(QuantConfig(bits: 4, format: .fp4E2M1, granularity: .perGroup(size: 32))))
        #expect(try QuantTrainingOptions(format: "stable-spam-int4", groupSize: 64).makeLayerQuantization() == .stableSPAMInt4(groupSize: 64))
        #expect(try QuantTrainingOptions(format: "binary", estimator: "clipped-ste", quantizesActivations: true).makeLayerQuantization()
            == .binary(estimator: .clippedSTE(clip: 1), binaryActivations: true))
        #expect(try QuantTrainingOptions(format: "int4", groupSize: 4).makeLayerQuantization().weights?.groupSize == 4)
    }

    @Test func badConfigurationsAreClearErrors() throws {
        let model = try Self.mlp([30, 16, 4])
        let divides = Self.message { _ = try QuantTrainingOptions(format: "int4", groupSize: 16).apply(to: model) }
        #expect(divides?.contains("--group-size 16 does not divide the input size 30 of layer 'layers.0'") == true, "\(divides ?? "no error")")
        let bits = Self.message { _ = try QuantTrainingOptions(format: "int9").makeLayerQuantization() }
        #expect(bits?.contains("unsupported bit width 9") == true, "\(bits ?? "no error")")
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int1").makeLayerQuantization() }?.contains("unsupported bit width 1") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int16").makeLayerQuantization() }?.contains("unsupported bit width 16") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "fp8").makeLayerQuantization() }?.contains("is not one of") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int4", groupSize: 0).makeLayerQuantization() }?.contains("positive") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int4", groupSize: 8, granularity: "tensor").makeLayerQuantization() }?
            .contains("needs --granularity group") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int4", granularity: "row").makeLayerQuantization() }?.contains("--granularity 'row'") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "int4", estimator: "magic").makeLayerQuantization() }?.contains("--estimator 'magic'") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "mxfp4", groupSize: 64).makeLayerQuantization() }?.contains("blocks of 32") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "stable-spam-int4", estimator: "reste").makeLayerQuantization() }?
            .contains("straight-through") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "binary", groupSize: 4).makeLayerQuantization() }?.contains("do not apply") == true)
        #expect(Self.message { _ = try QuantTrainingOptions(format: "binary").apply(to: Self.mlp([8, 4, 2])) }?.contains("nothing would be binarized") == true)
    }

    @Test func binaryKeepsFirstAndLastLayersAndReSTEAnneals() throws {
        let model = try Self.mlp([8, 16, 16, 16, 2])
        let o = QuantTrainingOptions(format: "binary", estimator: "reste", quantizesActivations: true)
        let (q, paths) = try o.apply(to: model)
        #expect(paths == ["layers.2", "layers.4"])
        #expect(q.quantizedLayers.map(\.0) == paths)
        #expect(try o.scheduledEstimator(epoch: 0, epochs: 10) == .reste(o: 1, t: 1.5))
        let last = try o.scheduledEstimator(epoch: 9, epochs: 10)
        #expect(last == .reste(o: try ReSTE.schedule(oEnd: 3, epoch: 9, epochs: 10), t: 1.5))
        q.setQuantEstimator(last)
        #expect(q.quantizedLayers[0].1.quantization == .binary(estimator: last, binaryActivations: true))
        #expect(try QuantTrainingOptions(format: "int4", estimator: "clipped-ste").scheduledEstimator(epoch: 3, epochs: 5) == .clippedSTE(clip: 1))
    }

    // MARK: - the CLI (`gradus-cli` built next to the test bundle by `swift build --build-tests`)

    static var cliPath: String? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("gradus-cli").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func runCLI(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(cliPath))
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(.enabled(if: QuantizedTrainingOptionsTests.cliPath != nil, "gradus-cli not built next to the tests"))
    func cliTrainQuantGoodAndBad() throws {
        let plot = FileManager.default.temporaryDirectory.appendingPathComponent("gradus-quant-test-\(getpid()).svg").path
        defer { try? FileManager.default.removeItem(atPath: plot) }
        let common = ["train", "--dataset", "xor", "--limit", "400", "--hidden", "8", "--epochs", "1", "--plot", plot]
        let good = try Self.runCLI(common + ["--quant", "int4", "--group-size", "2", "--quant-activations", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        let json = try JSON.parse(good.stdout.split(separator: "\n").last.map(String.init) ?? "")
        #expect(json["quant"]?["format"]?.string == "int4")
        #expect(json["quant"]?["layers"]?.array?.count == 2)
        #expect(json["test_accuracy"]?.double.map { $0.isFinite } == true)

        let badGroup = try Self.runCLI(common + ["--quant", "int4", "--group-size", "3"])
        #expect(badGroup.status != 0)
        #expect(badGroup.stderr.contains("--group-size 3 does not divide the input size 2"), "\(badGroup.stderr)")
        let badBits = try Self.runCLI(common + ["--quant", "int12"])
        #expect(badBits.status != 0)
        #expect(badBits.stderr.contains("unsupported bit width 12"), "\(badBits.stderr)")
        let orphan = try Self.runCLI(common + ["--group-size", "2"])
        #expect(orphan.status != 0)
        #expect(orphan.stderr.contains("need --quant"), "\(orphan.stderr)")
    }
}
