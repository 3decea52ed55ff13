import Foundation
import Hummingbird

/// Derives the issuer from the request's `Host`, as Zitadel does, unless the configuration fixes it.
struct IssuerMiddleware: RouterMiddleware {
    typealias Context = MockRequestContext
    let mock: MockZitadel
    let issuerOverride: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let issuerOverride {
            context.issuer = issuerOverride
        } else if let authority = request.head.authority, Self.isPlausibleAuthority(authority) {
            context.issuer = "http://\(authority)"
        } else {
            context.issuer = await mock.defaultIssuer
        }
        return try await next(request, context)
    }

    /// Host names, IPv4/IPv6 literals and ports only: a hostile Host header must not end up inside tokens.
    static func isPlausibleAuthority(_ authority: String) -> Bool {
        guard !authority.isEmpty, authority.utf8.count <= 255 else { return false }
        return authority.unicodeScalars.allSatisfy { scalar in
            CharacterSet.alphanumerics.contains(scalar) && scalar.isASCII || "-.:[]_".unicodeScalars.contains(scalar)
        }
    }
}
