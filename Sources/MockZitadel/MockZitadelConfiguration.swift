import Foundation

/// How to run the mock Zitadel: where it listens, which seed it loads, and how it names its issuer.
public struct MockZitadelConfiguration: Sendable {
    /// Address to bind; default `127.0.0.1`.
    public var host: String
    /// Port to bind; default 8081, `0` for an ephemeral port (tests).
    public var port: Int
    /// Seed file path; `nil` looks for `Mocks/seed.json` in the working directory, then in this repository.
    public var seedFile: String?
    /// Fixed issuer; `nil` derives it from each request's `Host` header, as Zitadel does.
    public var issuerOverride: String?

    public init(host: String = "127.0.0.1", port: Int = 8081, seedFile: String? = nil, issuerOverride: String? = nil) {
        self.host = host
        self.port = port
        self.seedFile = seedFile
        self.issuerOverride = issuerOverride
    }

    /// The seed file to load: the configured one, else `Mocks/seed.json` relative to the working directory,
    /// else the repository's copy next to this source file.
    func resolvedSeedPath() throws -> String {
        let fileManager = FileManager.default
        if let seedFile {
            guard fileManager.fileExists(atPath: seedFile) else { throw MockZitadelError.seedNotFound(tried: [seedFile]) }
            return seedFile
        }
        let relative = "Mocks/seed.json"
        let cwd = URL(fileURLWithPath: fileManager.currentDirectoryPath).appendingPathComponent(relative).path
        let repository = URL(fileURLWithPath: Self.repositoryMocksDirectory).appendingPathComponent("seed.json").path
        for candidate in [cwd, repository] where fileManager.fileExists(atPath: candidate) {
            return candidate
        }
        throw MockZitadelError.seedNotFound(tried: [cwd, repository])
    }

    /// The directory seed files are loaded from: the configured seed's, else `Mocks/` in the working directory,
    /// else the repository's.
    func mocksDirectory() -> String {
        if let path = try? resolvedSeedPath() { return URL(fileURLWithPath: path).deletingLastPathComponent().path }
        return Self.repositoryMocksDirectory
    }

    /// The repository's `Mocks/` directory, located from this source file (`Sources/MockZitadel/` is two levels down).
    public static let repositoryMocksDirectory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Mocks").path
}
