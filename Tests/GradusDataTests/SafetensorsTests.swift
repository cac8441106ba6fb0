import Foundation
import Testing
import GradusRuntime
@testable import GradusData

@Suite struct SafetensorsTests {
    func contents() throws -> SafetensorsContents {
        SafetensorsContents(tensors: [
            "layers.0.weight": try RawArray(shape: [2, 3], scalars: [Float](arrayLiteral: 1, -2, 3.5, 4, 5, 6)),
            "layers.0.bias": try RawArray(shape: [3], scalars: [0.25, -1e-300, 7]),
            "step": try RawArray(shape: [], scalars: [Int64(42)]),
            "mask": try RawArray(shape: [4], scalars: [UInt8](arrayLiteral: 0, 1, 1, 0)),
            "empty": try RawArray(shape: [0, 5], scalars: [Float]()),
        ], metadata: ["format": "pt", "epoch": "3"])
    }

    @Test func roundTrip() throws {
        let dir = DataTest.scratchDirectory()
        let c = try contents()
        try Safetensors.write(c, to: dir + "/a.safetensors")
        let back = try Safetensors.read(dir + "/a.safetensors")
        #expect(back == c)
        let bytes = DataTest.readBytes(dir + "/a.safetensors")
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        #expect(n % 8 == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.safetensors"])
    }

    @Test func readsFilesWrittenByPython() throws {
        let c = try Safetensors.read(DataTest.fixture("python.safetensors"))
        #expect(c.metadata == ["format": "np", "epoch": "4"])
        #expect(c.tensors["w"]?.shape == [2, 3] && c.tensors["w"]?.floats() == [0, 1, 2, 3, 4, 5])
        #expect(c.tensors["b"]?.doubles() == [0.5, -1.5])
        #expect(c.tensors["h"]?.elementType == .float16 && c.tensors["h"]?.floats() == [1, -2, 0.25])
        #expect(try c.tensors["steps"]?.int64s() == [3, 1 << 40])
        #expect(try c.tensors["mask"]?.int32s() == [1, 0, 7])
        let bf = try Safetensors.read(DataTest.fixture("bf16.safetensors"))
        #expect(bf.tensors["x"]?.floats() == [1, -2.5, 3.140625])
    }

    @Test func pythonReadsOurFilesAndWeReadPythons() throws {
        guard DataTest.pythonHas("numpy", "safetensors") else { return }
        let dir = DataTest.scratchDirectory()
        try Safetensors.write(try contents(), to: dir + "/ours.safetensors")
        let r = DataTest.python("""
        import sys, numpy as np
        from safetensors.numpy import load_file, save_file
        from safetensors import safe_open
        d = sys.argv[1]
        t = load_file(d + '/ours.safetensors')
        assert t['layers.0.weight'].dtype == np.float32 and t['layers.0.weight'].tolist() == [[1, -2, 3.5], [4, 5, 6]], t
        assert t['layers.0.bias'].dtype == np.float64 and t['layers.0.bias'].tolist() == [0.25, -1e-300, 7]
        assert t['step'].shape == () and int(t['step']) == 42 and t['step'].dtype == np.int64
        assert t['mask'].dtype == np.uint8 and t['empty'].shape == (0, 5)
        with safe_open(d + '/ours.safetensors', 'np') as f:
            assert f.metadata() == {'format': 'pt', 'epoch': '3'}
        save_file({'a': np.arange(12, dtype=np.float64).reshape(3, 4), 'z': np.array([1.5], dtype=np.float32),
                   'i': np.array([[-1, 2]], dtype=np.int32)}, d + '/theirs.safetensors', metadata={'k': 'v'})
        """, [dir])
        #expect(r?.status == 0, "\(r?.output ?? "")")
        let theirs = try Safetensors.read(dir + "/theirs.safetensors")
        #expect(theirs.tensors["a"]?.shape == [3, 4] && theirs.tensors["a"]?.doubles() == (0..<12).map(Double.init))
        #expect(theirs.tensors["z"]?.floats() == [1.5])
        #expect(try theirs.tensors["i"]?.int32s() == [-1, 2])
        #expect(theirs.metadata == ["k": "v"])
    }

    @Test func invalidNamesAreRejected() throws {
        let a = try RawArray(shape: [1], scalars: [Float(1)])
        #expect(DataTest.error { try Safetensors.encode(SafetensorsContents(tensors: ["__metadata__": a])) } != nil)
        #expect(DataTest.error { try Safetensors.encode(SafetensorsContents(tensors: ["": a])) } != nil)
    }
}

/// Malformed files must throw `.format` (or `.io`), never crash.
@Suite struct SafetensorsCorruptionTests {
    /// A valid file with a hand-written header over `data`.
    static func file(_ header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var n = declaredLength ?? UInt64(h.count)
        var out = [UInt8]()
        for _ in 0..<8 { out.append(UInt8(truncatingIfNeeded: n)); n >>= 8 }
        return out + h + data
    }

    static let eight = [UInt8](repeating: 0, count: 8)
    static let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func wellFormedBaseline() throws {
        #expect(try Safetensors.decode(Self.file(Self.good, data: Self.eight)).tensors["a"]?.floats() == [0, 0])
    }

    @Test(arguments: [
        ("empty file", [UInt8]()),
        ("shorter than the length prefix", [UInt8](repeating: 0, count: 5)),
        ("truncated data", SafetensorsCorruptionTests.file(good, data: [0, 0, 0, 0])),
        ("trailing bytes", SafetensorsCorruptionTests.file(good, data: eight + [1])),
        ("header length past end", SafetensorsCorruptionTests.file(good, data: eight, declaredLength: 200)),
        ("huge header length", SafetensorsCorruptionTests.file(good, data: eight, declaredLength: UInt64.max)),
        ("header length just over limit", SafetensorsCorruptionTests.file(good, data: eight, declaredLength: 100_000_001)),
        ("header length zero", SafetensorsCorruptionTests.file(good, data: eight, declaredLength: 0)),
        ("non-JSON header", SafetensorsCorruptionTests.file("{not json at all}", data: [])),
        ("header not an object", SafetensorsCorruptionTests.file("[1,2,3]", data: [])),
        ("binary garbage header", SafetensorsCorruptionTests.file(String(decoding: [0xFF, 0xFE, 0x00, 0x7B], as: UTF8.self), data: [])),
        ("unknown dtype", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, data: eight)),
        ("dtype not a string", SafetensorsCorruptionTests.file(#"{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"#, data: eight)),
        ("wrong dtype for size", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, data: eight)),
        ("offsets out of range", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: eight)),
        ("offsets reversed", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#, data: eight)),
        ("negative offset", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, data: eight)),
        ("huge offset", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[1e300,1e300]}}"#, data: eight)),
        ("overlapping offsets", SafetensorsCorruptionTests.file(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            data: eight + [0, 0, 0, 0])),
        ("identical offsets", SafetensorsCorruptionTests.file(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            data: eight)),
        ("hole in buffer", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight)),
        ("negative dimension", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight)),
        ("overflowing shape", SafetensorsCorruptionTests.file(
            #"{"a":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, data: eight)),
        ("fractional dimension", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, data: eight)),
        ("missing offsets", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: eight)),
        ("three offsets", SafetensorsCorruptionTests.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"#, data: eight)),
        ("entry not an object", SafetensorsCorruptionTests.file(#"{"a":[1,2]}"#, data: [])),
        ("metadata not strings", SafetensorsCorruptionTests.file(#"{"__metadata__":{"k":1}}"#, data: [])),
        ("metadata not an object", SafetensorsCorruptionTests.file(#"{"__metadata__":"x"}"#, data: [])),
        ("deep nesting", SafetensorsCorruptionTests.file("{\"a\":" + String(repeating: "[", count: 5000), data: [])),
    ] as [(String, [UInt8])])
    func malformedThrowsFormat(name: String, bytes: [UInt8]) {
        let e = DataTest.error { try Safetensors.decode(bytes, name: name) }
        #expect(DataTest.isFormat(e), "\(name): \(String(describing: e))")
    }

    @Test func truncationAtEveryLengthThrows() throws {
        let dir = DataTest.scratchDirectory()
        try Safetensors.write(SafetensorsContents(tensors: ["w": try RawArray(shape: [3], scalars: [1.0, 2, 3])],
                                                  metadata: ["m": "x"]), to: dir + "/f")
        let full = DataTest.readBytes(dir + "/f")
        for cut in 0..<full.count {
            let e = DataTest.error { try Safetensors.decode(Array(full.prefix(cut))) }
            #expect(DataTest.isFormat(e), "cut at \(cut): \(String(describing: e))")
        }
        // Random byte flips may yield a valid file but must never crash.
        var rng = PhiloxStream(seed: 1)
        for _ in 0..<300 {
            var b = full
            b[rng.nextInt(below: b.count)] = UInt8(truncatingIfNeeded: rng.nextUInt32())
            _ = try? Safetensors.decode(b)
        }
    }

    @Test func unreadablePathsThrowIO() {
        #expect(DataTest.isIO(DataTest.error { try Safetensors.read("/nonexistent/x.safetensors") }))
        #expect(DataTest.isIO(DataTest.error { try Safetensors.read(DataTest.scratchDirectory()) }))
    }

    @Test func unsupportedKnownDtype() {
        let b = Self.file(#"{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#, data: Self.eight)
        if case .unsupported = DataTest.error({ try Safetensors.decode(b) }) {} else { Issue.record("expected unsupported") }
    }
}

/// A failed or partial save must leave the previous checkpoint intact.
@Suite struct CrashSafetyTests {
    @Test func failedSaveKeepsPreviousFile() throws {
        let dir = DataTest.scratchDirectory()
        let path = dir + "/ckpt.safetensors"
        let old = SafetensorsContents(tensors: ["w": try RawArray(shape: [2], scalars: [Float](arrayLiteral: 1, 2))], metadata: ["v": "old"])
        try Safetensors.write(old, to: path)
        let oldBytes = DataTest.readBytes(path)
        let new = SafetensorsContents(tensors: ["w": try RawArray(shape: [1000], scalars: [Float](repeating: 9, count: 1000))],
                                      metadata: ["v": "new"])
        let chunks = try Safetensors.encode(new)
        // Simulate an I/O failure at several points of the write (header, mid-data, just before the end).
        for limit in [0, 5, 100, 2000, chunks.map(\.count).reduce(0, +) - 1] {
            let e = DataTest.error { try FileIO.writeAtomically(path, chunks: chunks, failAfterBytes: limit) }
            #expect(DataTest.isIO(e))
            #expect(DataTest.readBytes(path) == oldBytes)
            #expect(try Safetensors.read(path) == old)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["ckpt.safetensors"])
        }
        // A crash that left a stale partial temporary file behind does not affect loading or the next save.
        DataTest.writeBytes(Array(oldBytes.prefix(10)), to: path + ".tmp-\(getpid())")
        #expect(try Safetensors.read(path) == old)
        try Safetensors.write(new, to: path)
        #expect(try Safetensors.read(path) == new)
    }

    @Test func concurrentSavesLeaveOneCompleteFile() throws {
        let dir = DataTest.scratchDirectory()
        let path = dir + "/c.safetensors"
        let versions = try (0..<8).map { k in
            SafetensorsContents(tensors: ["w": try RawArray(shape: [256], scalars: [Float](repeating: Float(k), count: 256))])
        }
        DispatchQueue.concurrentPerform(iterations: 8) { k in try? Safetensors.write(versions[k], to: path) }
        #expect(versions.contains(try Safetensors.read(path)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["c.safetensors"])
    }

    @Test func saveIntoMissingDirectoryThrowsIO() throws {
        let e = DataTest.error {
            try Safetensors.write(SafetensorsContents(tensors: [:]), to: "/nonexistent-dir/x/ckpt.safetensors")
        }
        #expect(DataTest.isIO(e))
    }

    @Test func killedWriterLeavesOldFile() throws {
        // A writer killed (SIGKILL) after writing part of its temporary file: the target keeps its old contents.
        guard DataTest.pythonHas("os") else { return }
        let dir = DataTest.scratchDirectory()
        let path = dir + "/ckpt.safetensors"
        let old = SafetensorsContents(tensors: ["w": try RawArray(shape: [1], scalars: [Float(3)])])
        try Safetensors.write(old, to: path)
        let r = DataTest.python("""
        import os, signal, sys
        path = sys.argv[1]
        fd = os.open(path + '.tmp-99999', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.write(fd, b'\\x10' + b'\\x00' * 100)
        os.kill(os.getpid(), signal.SIGKILL)
        """, [path])
        #expect(r?.status != 0)
        #expect(try Safetensors.read(path) == old)
    }
}
