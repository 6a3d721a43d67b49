import Foundation

/// The file `name` in the Fixtures directory beside the calling test file.
public func fixtureURL(_ name: String, besides file: StaticString = #filePath) -> URL {
    URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appending(path: "Fixtures/\(name)")
}

/// The text of the file `name` in the Fixtures directory beside the calling test file.
public func fixture(_ name: String, besides file: StaticString = #filePath) throws -> String {
    try String(contentsOf: fixtureURL(name, besides: file), encoding: .utf8)
}
