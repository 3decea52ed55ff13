import Foundation
import MockZitadel
import Testing

@testable import ProviderContract

/// The mock answers every fixture's request with a response of the fixture's shape (same keys, kinds and enum
/// vocabulary), in both wire forms; and across all its answers it returns every field the fixtures hold.
@Suite struct MockContractTests {
    @Test func mockAnswersHaveTheFixturesShapes() async throws {
        let catalog = try Catalog.load()
        let oauthVocabulary = Set(catalog.vocabularies["OAuthError"] ?? [])
        try await MockZitadelApp.withRunningMock { baseURL, _ in
            let harness = MockHarness(baseURL: baseURL)
            var seen: [String: Set<String>] = [:]
            var asked = 0
            for fixture in catalog.fixtures where fixture.kind == .faithful && fixture.mock?.skip == nil {
                for answer in try await harness.answers(for: fixture) {
                    asked += 1
                    let label = "\(fixture.file) [\(answer.wire)]"
                    #expect(answer.status == fixture.response.status, "\(label): status \(answer.status)")
                    if fixture.response.body == .null {
                        #expect(answer.body == .null, "\(label): a body where Zitadel sends none")
                        continue
                    }
                    let shape = try #require(catalog.shapes[fixture.shapeKey], "\(label): no shape")
                    let extras = catalog.annotations[fixture.shapeKey]?.mockExtras ?? [:]
                    let differences = shape.compare(answer.body).filter { !($0.kind == .newField && extras[$0.path] != nil) }
                    #expect(differences.isEmpty, "\(label): \(differences.map(\.description))")
                    if let error = fixture.expect?.error, fixture.response.wire == "oauth" {
                        let problems = OAuthErrorBody.problems(status: answer.status, body: answer.body, vocabulary: oauthVocabulary)
                        #expect(problems.isEmpty, "\(label): \(problems)")
                        #expect(OAuthErrorBody.apiError(status: answer.status, body: answer.body) == error, "\(label)")
                    } else if let error = fixture.expect?.error {
                        #expect(ClientDecoding.apiError(status: answer.status, body: answer.body) == error, "\(label)")
                    }
                    seen[fixture.shapeKey, default: []].formUnion(Self.paths(answer.body, shape: shape))
                }
            }
            #expect(asked >= 40)
            // Coverage: every field of a shape the mock was asked for appears in some answer, unless excused.
            for (key, paths) in seen {
                let shape = try #require(catalog.shapes[key])
                let excused = Set(catalog.annotations[key]?.mockOmits.keys.map { $0 } ?? [])
                let missing = shape.paths.subtracting(paths).subtracting(excused).sorted()
                #expect(missing.isEmpty, "\(key): the mock never returns \(missing)")
            }
        }
    }

    /// Field paths present in a body, as the shape names them.
    static func paths(_ body: ContractJSON, shape: ResponseShape) -> Set<String> {
        var walk = ShapeWalk(maps: shape.maps, keyPatterns: shape.keyPatterns)
        walk.visit(body, path: "", parent: nil)
        return Set(walk.seen.keys.filter { !$0.isEmpty })
    }
}
