import GradusRuntime

/// Fashion-MNIST (Xiao et al. 2017): 28×28 grey images of 10 clothing classes, 60k train and 10k test,
/// as the four gzip-compressed IDX files of the original release.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable {
        case train, test
        var prefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads one split. Pixels become floats in [0, 1]; samples have shape `[28, 28]` (or `[784]` when
    /// `flatten`). Reads `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]`.
    ///
    /// - Throws: `.notFound` when the files are absent, `.format` when they are malformed.
    public static func load(_ split: Split, directory: String = defaultDirectory, flatten: Bool = false,
                            limit: Int? = nil) throws(GradusError) -> Dataset {
        func locate(_ stem: String) throws(GradusError) -> String {
            for candidate in ["\(directory)/\(stem).gz", "\(directory)/\(stem)"] where FileIO.exists(candidate) {
                return candidate
            }
            throw .notFound("Fashion-MNIST file '\(stem)(.gz)' not found in '\(directory)'")
        }
        let images = try IDX.read(try locate("\(split.prefix)-images-idx3-ubyte"))
        let labels = try IDX.read(try locate("\(split.prefix)-labels-idx1-ubyte"))
        guard images.shape.count == 3, images.elementType == .uint8 else {
            throw .format("Fashion-MNIST images should be U8 of rank 3, got \(images.elementType) \(images.shape)")
        }
        var data = try Dataset(inputs: images, labels: labels, scale: 1 / 255, classCount: 10)
        if let limit, limit < data.count {
            guard limit >= 0 else { throw .invalidArgument("limit must be non-negative") }
            data = try data.subset(Array(0..<limit))
        }
        if flatten {
            data = try Dataset(features: data.features, sampleShape: [data.sampleSize], labels: data.labels, classCount: 10)
        }
        return data
    }
}
