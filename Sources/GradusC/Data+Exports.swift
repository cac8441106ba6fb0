// Section "Data" of include/gradus.h.
import Gradus
import _GradusShims

@inline(__always)
private func datasetArg(_ d: gradus_dataset?) throws(GradusError) -> DatasetBox {
    try HandleRegistry.shared.get(d, as: DatasetBox.self, "dataset")
}

@c @implementation public func gradus_dataset_load_fashion_mnist(
    _ directory: UnsafePointer<CChar>?, _ split: gradus_split, _ limit: Int64, _ out: UnsafeMutablePointer<gradus_dataset?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let s: FashionMNIST.Split
        switch split {
        case GRADUS_SPLIT_TRAIN: s = .train
        case GRADUS_SPLIT_TEST: s = .test
        default: throw .invalidArgument("split \(split) is not a GRADUS_SPLIT_* value")
        }
        guard limit >= 0 else { throw .invalidArgument("limit is \(limit); expected >= 0 (0 = all)") }
        let dir = directory.map { String(cString: $0) } ?? FashionMNIST.defaultDirectory
        let ds = try FashionMNIST.load(s, directory: dir, flatten: true, limit: limit > 0 ? Int(limit) : nil)
        out.pointee = publish(DatasetBox(ds))
    }
}

@c @implementation public func gradus_dataset_create_synthetic(
    _ kind: gradus_synthetic, _ count: Int64, _ seed: UInt64, _ out: UnsafeMutablePointer<gradus_dataset?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        guard count >= 1, count <= 10_000_000 else { throw .invalidArgument("count is \(count); expected 1...10000000") }
        let n = Int(count)
        let ds: Dataset
        switch kind {
        case GRADUS_SYNTHETIC_TWO_MOONS: ds = try Synthetic.twoMoons(count: n, seed: seed)
        case GRADUS_SYNTHETIC_SPIRALS: ds = try Synthetic.spirals(count: n, seed: seed)
        case GRADUS_SYNTHETIC_XOR: ds = try Synthetic.xorClusters(count: n, seed: seed)
        case GRADUS_SYNTHETIC_MIXTURE: ds = try Synthetic.gaussianMixture(count: n, seed: seed)
        default: throw .invalidArgument("kind \(kind) is not a GRADUS_SYNTHETIC_* value")
        }
        out.pointee = publish(DatasetBox(ds))
    }
}

@c @implementation public func gradus_dataset_destroy(_ dataset: gradus_dataset?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard HandleRegistry.shared.remove(dataset, as: DatasetBox.self) else {
            throw .invalidHandle("dataset is not a live dataset handle (destroyed twice, stale or foreign)")
        }
    }
}

@c @implementation public func gradus_dataset_count(_ dataset: gradus_dataset?, _ out: UnsafeMutablePointer<Int64>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int64(try datasetArg(dataset).dataset.count)
    }
}

@c @implementation public func gradus_dataset_sample_size(_ dataset: gradus_dataset?, _ out: UnsafeMutablePointer<Int64>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int64(try datasetArg(dataset).dataset.sampleSize)
    }
}

@c @implementation public func gradus_dataset_class_count(_ dataset: gradus_dataset?, _ out: UnsafeMutablePointer<Int32>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int32(truncatingIfNeeded: try datasetArg(dataset).dataset.classCount)
    }
}

@c @implementation public func gradus_dataset_batch(
    _ dataset: gradus_dataset?, _ start: Int64, _ count: Int64, _ features: UnsafeMutablePointer<gradus_tensor?>?,
    _ labels: UnsafeMutablePointer<Int32>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let features = try outArg(features)
        let ds = try datasetArg(dataset).dataset
        let labels = try require(labels, "labels")
        guard start >= 0, start < Int64(ds.count) else { throw .invalidArgument("start \(start) out of range 0..<\(ds.count)") }
        guard count > 0 else { throw .invalidArgument("count is \(count); expected > 0") }
        let lo = Int(start), hi = Int(min(Int64(ds.count), start + min(count, Int64(ds.count))))
        let size = ds.sampleSize
        let t = try ds.features.withUnsafeBufferPointer { (buf) throws(GradusError) -> Tensor in
            try Tensor.copying(UnsafeRawPointer(buf.baseAddress! + lo * size), shape: [hi - lo, size], dtype: .float32)
        }
        for i in lo..<hi { labels[i - lo] = ds.labels[i] }
        emit(t, features)
    }
}

@c @implementation public func gradus_dataset_shuffle(_ dataset: gradus_dataset?, _ seed: UInt64) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try datasetArg(dataset)
        var rng = PhiloxStream(seed: seed)
        box.dataset = try box.dataset.subset(Shuffle.permutation(box.dataset.count, using: &rng))
    }
}
