import Foundation
import MockZitadel
import Testing
import ZitadelClient

@testable import ProviderContract

/// Every fixture states where it comes from, and the client reads each one as the fixture says.
@Suite struct FixtureContractTests {
    @Test func everyFixtureStatesItsVersionAndCall() throws {
        let catalog = try Catalog.load()
        #expect(catalog.fixtures.count >= 50)
        for fixture in catalog.fixtures {
            #expect(fixture.zitadel.contains("Zitadel v") || fixture.zitadel.hasPrefix("any"), "\(fixture.file): no Zitadel version")
            #expect(fixture.call.connect != nil || fixture.call.http != nil, "\(fixture.file): no call")
            if fixture.call.connect != nil { #expect(fixture.call.rest != nil, "\(fixture.file): no REST route") }
            #expect(fixture.expect != nil || fixture.response.body == .null || fixture.call.http != nil, "\(fixture.file): no expectation")
            if fixture.isError { #expect(fixture.response.wire != nil, "\(fixture.file): error without its wire form") }
        }
    }

    /// Faithful fixtures agree with the shape learned from them: enum values from the proto, int64 as strings.
    @Test func faithfulFixturesKeepTheProtoVocabulary() throws {
        let catalog = try Catalog.load()
        var compared = 0
        for fixture in catalog.fixtures where fixture.kind == .faithful && fixture.response.body != .null {
            let shape = try #require(catalog.shapes[fixture.shapeKey], "\(fixture.file)")
            let differences = shape.compare(fixture.response.body)
            #expect(differences.isEmpty, "\(fixture.file): \(differences)")
            compared += 1
        }
        #expect(compared >= 40)
    }

    /// Tolerance fixtures really depart from Zitadel's shape (else they test nothing), and the client reads them.
    @Test func toleranceFixturesDepartFromTheShape() throws {
        let catalog = try Catalog.load()
        let tolerance = catalog.fixtures.filter { $0.kind == .tolerance }
        #expect(tolerance.count >= 6)
        for fixture in tolerance {
            guard let shape = catalog.shapes[fixture.shapeKey] else { continue }
            #expect(!shape.compare(fixture.response.body).isEmpty, "\(fixture.file) matches the shape exactly")
        }
    }

    /// The client decodes every success fixture into exactly the value the fixture states.
    @Test func clientDecodesEveryFixtureIntoTheExpectedValue() async throws {
        let catalog = try Catalog.load()
        var decoded = 0
        var pending: [String] = []
        for fixture in catalog.fixtures {
            guard let type = fixture.expect?.type else { continue }
            guard ClientDecoding.knownTypes.contains(type) else {
                pending.append(fixture.file)
                continue
            }
            if let reason = fixture.expect?.rejected {
                await #expect(throws: (any Error).self, "\(fixture.file) must be refused: \(reason)") {
                    _ = try await ClientDecoding.decode(type, body: fixture.response.body)
                }
                continue
            }
            let value = try await ClientDecoding.decode(type, body: fixture.response.body)
            #expect(value != nil)
            #expect(
                value == fixture.expect?.value,
                "\(fixture.file): the client holds \(value?.rendered ?? "nothing"), the fixture says \(fixture.expect?.value?.rendered ?? "nothing")"
            )
            decoded += 1
        }
        #expect(decoded >= 28)
        // Calls whose client model is not on this branch yet must at least have no stated type.
        #expect(pending.isEmpty, "fixtures name client models that do not exist: \(pending)")
    }

    /// Every error fixture, in each wire form, decodes into the typed error it states: v2 bodies through the client's
    /// error decoder; OAuth bodies (token, introspection, revocation), which the gateway acts on by status alone, are
    /// held to RFC 6749 §5.2 and read as their `error` code, which their file name also states.
    @Test func clientDecodesEveryErrorBodyIntoTheTypedError() throws {
        let catalog = try Catalog.load()
        let oauthVocabulary = Set(catalog.vocabularies["OAuthError"] ?? [])
        var checked: Set<String> = []
        for fixture in catalog.fixtures where fixture.isError {
            let expected = try #require(fixture.expect?.error, "\(fixture.file): no typed error")
            let status = fixture.response.status
            if fixture.response.wire == "oauth" {
                let problems = OAuthErrorBody.problems(status: status, body: fixture.response.body, vocabulary: oauthVocabulary)
                #expect(problems.isEmpty, "\(fixture.file): \(problems)")
                #expect(OAuthErrorBody.apiError(status: status, body: fixture.response.body) == expected, "\(fixture.file)")
                let variant = fixture.file.split(separator: "/").last.map { String($0.dropLast(".oauth.json".count)) }
                #expect(variant == expected.code.replacingOccurrences(of: "_", with: "-"), "\(fixture.file) holds \(expected.code)")
            } else {
                #expect(fixture.call.connect != nil, "\(fixture.file): a v2 error without its RPC")
                #expect(ClientDecoding.apiError(status: status, body: fixture.response.body) == expected, "\(fixture.file)")
            }
            checked.insert(fixture.response.wire ?? "")
        }
        #expect(checked.isSuperset(of: ["connect", "rest", "proxy", "oauth"]))
    }

    /// ListUserMetadata's `not_found` and `unimplemented` (a Zitadel without the RPC), which the gateway reads as "no
    /// user policy", are recorded in both wire forms.
    @Test func metadataFallbackCodesAreRecordedInBothWireForms() throws {
        let catalog = try Catalog.load()
        let errors = catalog.fixtures(in: "UserService/ListUserMetadata").filter(\.isError)
        for code in [ZitadelStatusCode.notFound, .unimplemented] {
            let wires = Set(errors.filter { $0.expect?.error?.code == code.rawValue }.compactMap(\.response.wire))
            #expect(wires.isSuperset(of: ["connect", "rest"]), "\(code.rawValue): recorded in \(wires.sorted())")
        }
    }

    /// Every Zitadel error id the gateway acts on has a recorded body in both wire forms.
    @Test func everyHandledErrorIdIsRecordedInBothWireForms() throws {
        let catalog = try Catalog.load()
        let handled = [
            ZitadelErrorId.userNotFound, ZitadelErrorId.phoneNotVerified, ZitadelErrorId.otpSMSAlreadyAdded,
            ZitadelErrorId.unknownUser, ZitadelErrorId.phoneUnchanged, ZitadelErrorId.phoneInvalid,
            ZitadelErrorId.phoneCodeInvalid, ZitadelErrorId.invalidToken, ZitadelErrorId.quotaExhausted,
            ZitadelErrorId.instanceBlocked,
        ]
        for id in handled {
            let wires = Set(catalog.fixtures.filter { $0.expect?.error?.id == id }.compactMap(\.response.wire))
            #expect(wires.isSuperset(of: ["connect", "rest"]), "\(id): recorded in \(wires.sorted())")
        }
    }

    /// The fixtures' own Connect and REST error pairs name the same typed error.
    @Test func errorPairsAgreeAcrossWireForms() throws {
        let catalog = try Catalog.load()
        let errors = catalog.fixtures.filter { $0.isError && $0.file.hasSuffix(".connect.json") }
        var pairs = 0
        for connect in errors {
            let restFile = connect.file.replacingOccurrences(of: ".connect.json", with: ".rest.json")
            guard let rest = catalog.fixture(restFile) else { continue }
            #expect(connect.expect?.error == rest.expect?.error, "\(connect.file)")
            #expect(connect.response.status == rest.response.status, "\(connect.file)")
            pairs += 1
        }
        #expect(pairs >= 13)
    }
}
