import Foundation
import SessionValidation
import ZitadelClient

/// The gateway client's own reading of provider bodies: its typed models and its error decoder.
public enum ClientDecoding {
    /// Model type name → decoder into what the model holds. Calls without a client model yet are absent.
    static let decoders: [String: @Sendable (Data) async throws -> ContractJSON] = [
        "Discovery": { ContractJSON(reflecting: try ProviderDocuments.discovery(Array($0))) },
        "KeySetSummary": { ContractJSON(reflecting: try await ProviderDocuments.keySet(Array($0))) },
        // The fixtures are of the seeded portal project and application (Mocks/seed.json).
        "TokenClaims": {
            ContractJSON(
                reflecting: try ProviderDocuments.introspection(
                    Array($0), projectId: "300000000000000001", portalClients: ["300000000000000002@aidial"]))
        },
        "GetUserByIDResponse": { ContractJSON(reflecting: try JSONDecoder().decode(GetUserByIDResponse.self, from: $0)) },
        "ListAuthenticationMethodTypesResponse": {
            ContractJSON(reflecting: try JSONDecoder().decode(ListAuthenticationMethodTypesResponse.self, from: $0))
        },
        "ListAuthenticationFactorsResponse": {
            ContractJSON(reflecting: try JSONDecoder().decode(ListAuthenticationFactorsResponse.self, from: $0))
        },
        "ListPasskeysResponse": { ContractJSON(reflecting: try JSONDecoder().decode(ListPasskeysResponse.self, from: $0)) },
        "ListUserMetadataResponse": {
            ContractJSON(reflecting: try JSONDecoder().decode(ListUserMetadataResponse.self, from: $0))
        },
        "GetSessionResponse": { ContractJSON(reflecting: try JSONDecoder().decode(GetSessionResponse.self, from: $0)) },
        "ListSessionsResponse": { ContractJSON(reflecting: try JSONDecoder().decode(ListSessionsResponse.self, from: $0)) },
        "SetPhoneResponse": { ContractJSON(reflecting: try JSONDecoder().decode(SetPhoneResponse.self, from: $0)) },
        "DetailsResponse": { ContractJSON(reflecting: try JSONDecoder().decode(DetailsResponse.self, from: $0)) },
    ]

    /// Model types the client has today.
    public static var knownTypes: Set<String> { Set(decoders.keys) }

    /// What the client's model of `type` holds after decoding `body`; `nil` when the client has no such model.
    public static func decode(_ type: String, body: ContractJSON) async throws -> ContractJSON? {
        guard let decoder = decoders[type] else { return nil }
        return try await decoder(Data(body.rendered.utf8))
    }

    /// The typed error the client reports for an error answer.
    public static func apiError(status: Int, body: ContractJSON) -> ProviderFixture.Expectation.APIError {
        let bytes = body == .null ? [] : Array(body.rendered.utf8)
        let error = ZitadelAPIError.decode(status: status, body: bytes)
        return .init(code: error.code.rawValue, id: error.id, httpStatus: error.httpStatus)
    }
}
