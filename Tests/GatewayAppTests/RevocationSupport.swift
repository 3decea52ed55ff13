import AsyncHTTPClient
import Foundation
import MockZitadel
import NIOCore

/// RFC 7009 revocation at the mock, authenticated as the gateway's API application.
enum HTTPClientRequestBuilder {
    static func revoke(baseURL: String, token: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + "/oauth/v2/revoke")
        let credential =
            "\(MockZitadelDefaults.introspectionClientId.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""):\(MockZitadelDefaults.introspectionSecret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        request.headers.add(name: "Authorization", value: "Basic " + Data(credential.utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        request.body = .bytes(ByteBuffer(string: "token=\(encoded)"))
        return request
    }

    static func send(_ request: HTTPClientRequest) async throws -> Int {
        Int(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code)
    }
}
