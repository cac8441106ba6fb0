import Foundation
import Testing
@testable import GradusData

@Suite struct IDXTests {
    @Test func readsGzipFixtures() throws {
        let images = try IDX.read(DataTest.fixture("tiny-images-idx3-ubyte.gz"))
        #expect(images.shape == [3, 2, 2])
        #expect(images.elementType == .uint8)
        #expect(images.bytes == (0..<12).map { UInt8($0 * 20) })
        let labels = try IDX.read(DataTest.fixture("tiny-labels-idx1-ubyte.gz"))
        #expect(try labels.int32s() == [2, 0, 1])
        let data = try Dataset(inputs: images, labels: labels, scale: 1 / 255)
        #expect(data.sampleShape == [2, 2] && data.count == 3 && data.classCount == 3)
        #expect(abs(data.features[1] - 20 / 255) < 1e-7)
    }

    @Test func readsPlainBigEndianFloats() throws {
        let a = try IDX.read(DataTest.fixture("tiny-f32-idx2"))
        #expect(a.shape == [2, 3] && a.elementType == .float32)
        #expect(a.floats() == [1.5, -2, 3, 4, 5.25, -6])
    }

    @Test(arguments: [true, false]) func roundTrip(compressed: Bool) throws {
        let dir = DataTest.scratchDirectory()
        let f64 = try RawArray(shape: [2, 2], scalars: [1.0, -2.5, 1e-300, .pi])
        try IDX.write(f64, to: dir + "/a", compressed: compressed)
        #expect(try IDX.read(dir + "/a") == f64)
        let i32 = try RawArray(shape: [3], scalars: [Int32(-7), 0, Int32.max])
        try IDX.write(i32, to: dir + "/b", compressed: compressed)
        #expect(try IDX.read(dir + "/b") == i32)
        let gz = DataTest.readBytes(dir + "/b")
        #expect((gz[0] == 0x1F && gz[1] == 0x8B) == compressed)
    }

    @Test func malformedFilesThrow() throws {
        let dir = DataTest.scratchDirectory()
        let good = try IDX.gzip([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4])
        DataTest.writeBytes(good, to: dir + "/ok.gz")
        #expect(try IDX.read(dir + "/ok.gz").bytes == [1, 2, 3, 4])
        let cases: [(String, [UInt8])] = [
            ("magic", [1, 0, 8, 1, 0, 0, 0, 1, 9]),
            ("type", [0, 0, 0x42, 1, 0, 0, 0, 1, 9]),
            ("short", [0, 0, 8, 1, 0, 0, 0, 5, 1, 2]),
            ("trailing", [0, 0, 8, 1, 0, 0, 0, 1, 1, 2]),
            ("dims", [0, 0, 8, 2, 0, 0]),
            ("huge", [0, 0, 0x0E, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("bigbutshort", [0, 0, 8, 1, 0x7F, 0xFF, 0xFF, 0xFF, 1]),
            ("empty", []),
        ]
        for (name, bytes) in cases {
            DataTest.writeBytes(bytes, to: dir + "/" + name)
            #expect(DataTest.isFormat(DataTest.error { try IDX.read(dir + "/" + name) }), "\(name)")
        }
        // A gzip stream cut in half.
        DataTest.writeBytes(Array(good.prefix(good.count / 2)), to: dir + "/cut.gz")
        #expect(DataTest.isFormat(DataTest.error { try IDX.read(dir + "/cut.gz") }))
        #expect(DataTest.isIO(DataTest.error { try IDX.read(dir + "/missing") }))
        #expect(DataTest.isIO(DataTest.error { try IDX.read(dir) }))
    }

    @Test func realFashionMNISTWhenInstalled() throws {
        guard FileIO.exists(FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz") else { return }
        let test = try FashionMNIST.load(.test)
        #expect(test.count == 10_000 && test.sampleShape == [28, 28] && test.classCount == 10)
        #expect(test.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Balanced classes: 1000 each.
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels { counts[Int(l)] += 1 }
        #expect(counts == [Int](repeating: 1000, count: 10))
        #expect(test.labels.prefix(5) == [9, 2, 1, 1, 6])
        let train = try FashionMNIST.load(.train, flatten: true, limit: 100)
        #expect(train.count == 100 && train.sampleShape == [784])
        #expect(train.labels.prefix(5) == [9, 0, 0, 3, 0])
    }

    @Test func missingFashionMNISTIsNotFound() {
        let e = DataTest.error { try FashionMNIST.load(.train, directory: "/nonexistent-dir") }
        if case .notFound = e {} else { Issue.record("expected notFound, got \(String(describing: e))") }
    }
}

@Suite struct NPYTests {
    @Test func readsNumpyFixtures() throws {
        let f4 = try NPY.read(DataTest.fixture("f4.npy"))
        #expect(f4.shape == [2, 3] && f4.floats() == [1.5, -2, 3, 4, 5.25, -6])
        let f8 = try NPY.read(DataTest.fixture("f8.npy"))
        #expect(f8.doubles() == [0.1, 0.2, 1e300])
        let i8 = try NPY.read(DataTest.fixture("i8.npy"))
        #expect(i8.elementType == .int64)
        #expect(try i8.int64s() == [-3, 7, 1 << 40, 0])
        #expect(DataTest.isFormat(DataTest.error { try i8.int32s() }))
        let u1 = try NPY.read(DataTest.fixture("u1.npy"))
        #expect(try u1.int32s() == [0, 255, 9])
        let big = try NPY.read(DataTest.fixture("big-i4.npy"))
        #expect(try big.int32s() == [1, -2, 70000])
        let f2 = try NPY.read(DataTest.fixture("f2.npy"))
        #expect(f2.floats()[0...2] == [1, -0.5, 65504])
        #expect(abs(f2.floats()[3] - 5.96e-8) < 1e-9)
    }

    @Test func fortranOrderIsTransposedToC() throws {
        let a = try NPY.read(DataTest.fixture("fortran-f8.npy"))
        #expect(a.shape == [2, 3, 4])
        #expect(a.doubles() == (0..<24).map(Double.init))
    }

    @Test func roundTripAndNumpyReadsOurFiles() throws {
        let dir = DataTest.scratchDirectory()
        let arrays: [RawArray] = [
            try RawArray(shape: [2, 3], scalars: [Float](arrayLiteral: 1, 2, 3, 4, 5, 6)),
            try RawArray(shape: [4], scalars: [0.5, -1, 2, 1e-10]),
            try RawArray(shape: [2], scalars: [Int64(-5), 1 << 50]),
            try RawArray(shape: [3, 1], scalars: [UInt8](arrayLiteral: 0, 128, 255)),
            try RawArray(shape: [], scalars: [Float(7)]),
        ]
        for (i, a) in arrays.enumerated() {
            let path = dir + "/\(i).npy"
            try NPY.write(a, to: path)
            #expect(try NPY.read(path) == a)
            #expect(DataTest.readBytes(path).count % 64 == a.bytes.count % 64)
        }
        guard DataTest.pythonHas("numpy") else { return }
        let r = DataTest.python("""
        import sys, numpy as np
        d = sys.argv[1]
        assert np.load(d + '/0.npy').tolist() == [[1, 2, 3], [4, 5, 6]] and np.load(d + '/0.npy').dtype == np.float32
        assert np.load(d + '/2.npy').tolist() == [-5, 2**50]
        assert np.load(d + '/3.npy').shape == (3, 1) and np.load(d + '/3.npy').dtype == np.uint8
        assert np.load(d + '/4.npy').shape == () and float(np.load(d + '/4.npy')) == 7
        """, [dir])
        #expect(r?.status == 0, "\(r?.output ?? "")")
    }

    @Test func malformedThrows() throws {
        var good = Array(try NPY.encodeHeader(try RawArray(shape: [2], scalars: [Float(1), 2])))
        good += try RawArray(shape: [2], scalars: [Float(1), 2]).bytes
        #expect(try NPY.decode(good).floats() == [1, 2])
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(Array(good.dropLast())) }))
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(good + [0]) }))
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(Array(good.prefix(9))) }))
        var badLen = good; badLen[8] = 0xFF; badLen[9] = 0xFF
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(badLen) }))
        let header = { (s: String) -> [UInt8] in
            let b = Array(s.utf8)
            return NPY.magic + [1, 0, UInt8(b.count), 0] + b
        }
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(header("{'descr': '<f4', 'shape': (1,), }")) }))
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (0,), }")) }))
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")) }))
        #expect(DataTest.isFormat(DataTest.error { try NPY.decode(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")) }))
        if case .unsupported = DataTest.error({ try NPY.decode(header("{'descr': '<c16', 'fortran_order': False, 'shape': (0,), }")) }) {} else {
            Issue.record("complex dtype should be unsupported")
        }
        #expect(try NPY.decode(header("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }")).shape == [0, 3])
    }
}

@Suite struct CSVTests {
    @Test func readsHeaderAndQuotedFields() throws {
        let t = try CSV.read(DataTest.fixture("small.csv"))
        #expect(t.columnNames == ["x1", "x2", "label"])
        #expect(t.rowCount == 3)
        #expect(t.values == [0.5, 1, 1, -2, 300, 0, 4, 5, 2])
        #expect(try t.column(named: "x2") == [1, 300, 5])
        let d = try Dataset(csv: t, labelColumn: "label")
        #expect(d.sampleShape == [2] && d.labels == [1, 0, 2] && d.features == [0.5, 1, -2, 300, 4, 5])
    }

    @Test func parsingEdgeCases() throws {
        let t = try CSV.parse(Array("a;b\r\n1;\r\n\r\n\"2\";3\n".utf8), delimiter: ";")
        #expect(t.rowCount == 2 && t.values[1].isNaN && t.values[2...] == [2, 3])
        let quoted = try CSV.parse(Array("\"x \"\"q\"\"\",y\n1,2\n".utf8))
        #expect(quoted.columnNames == ["x \"q\"", "y"])
        #expect(DataTest.isFormat(DataTest.error { try CSV.parse(Array("a,b\n1\n".utf8)) }))
        #expect(DataTest.isFormat(DataTest.error { try CSV.parse(Array("a,b\n1,x\n".utf8)) }))
        #expect(DataTest.isFormat(DataTest.error { try CSV.parse(Array("a,b\n1,\"2\n".utf8)) }))
        #expect(DataTest.isFormat(DataTest.error { try CSV.parse([]) }))
        let noHeader = try CSV.parse(Array("1,2\n3,4".utf8), hasHeader: false)
        #expect(noHeader.columnNames == ["column0", "column1"] && noHeader.values == [1, 2, 3, 4])
        if case .notFound = DataTest.error({ try noHeader.column(named: "zz") }) {} else { Issue.record("expected notFound") }
        #expect(DataTest.isIO(DataTest.error { try CSV.read("/nonexistent/file.csv") }))
    }
}
