import Glibc

/// Runs a program and captures its standard output (stderr is discarded). Used to run the C anchors
/// and PyTorch inside the same benchmark run as Gradus.
enum Subprocess {
    static func run(_ argv: [String], environment extra: [String: String] = [:]) -> (status: Int32, output: String)? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var env: [String] = []
        var i = 0
        while let e = environ[i] { env.append(String(cString: e)); i += 1 }
        for (k, v) in extra { env.removeAll { $0.hasPrefix(k + "=") }; env.append("\(k)=\(v)") }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, cEnv)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return nil }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(fds[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xff, String(decoding: out, as: UTF8.self))
    }

    /// `R,key,metric,value` lines of an anchor run with ANCHOR_CSV=1.
    static func anchorMetrics(_ output: String) -> [String: Double] {
        var m: [String: Double] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("R,") {
            let parts = line.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count >= 4, let v = Double(parts[parts.count - 1]) else { continue }
            m[parts[1...(parts.count - 2)].joined(separator: ",")] = v
        }
        return m
    }
}
