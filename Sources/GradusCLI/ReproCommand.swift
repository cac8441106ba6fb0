import ArgumentParser
import Gradus

struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Seeded reproductions of the papers' comparisons (a few minutes each on 2 cores).",
        discussion: "Run `gradus repro --list` for the names.")

    @Argument(help: "Reproduction name.") var name: String?
    @Flag(help: "List the reproductions.") var list = false
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Work scale (1 = the documented run; smaller is quicker and noisier).") var scale = 1.0
    @Option(help: "Directory for plots and images.") var output = "."
    @Option(help: "Fashion-MNIST directory.") var dataDir = "/usr/share/datasets/fashion-mnist"
    @Option(name: .customLong("arm"), help: "Run only this comparison arm (repeatable; `--list` shows each reproduction's arms).") var arms: [String] = []
    @Flag(help: "Print one JSON object with the results.") var json = false

    func run() throws {
        if list || name == nil {
            for r in Reproductions.all {
                print("\(r.name)\t\(r.summary)" + (r.arms.isEmpty ? "" : " [arms: \(r.arms.joined(separator: ", "))]"))
            }
            return
        }
        guard let r = Reproductions.named(name!) else {
            throw CLIError("unknown reproduction '\(name!)'; try --list")
        }
        var o = ReproOptions()
        o.seed = seed
        o.scale = scale
        o.outputDirectory = output
        o.fashionMNISTDirectory = dataDir
        o.arms = arms.isEmpty ? nil : arms
        try cli { () throws(GradusError) in try o.validate(for: r) }
        let report = try cli { () throws(GradusError) in try r.run(o) { eprint($0 + "\n") } }
        if json { print(report.json.serialized); return }
        for t in report.tables {
            var table = Table(title: t.title, header: t.header)
            for row in t.rows { table.add(row) }
            print(table.render())
        }
        for c in report.claims { print("\(c.holds ? "✓" : "✗") \(c.claim)") }
        for f in report.files { print("wrote \(f)") }
    }
}
