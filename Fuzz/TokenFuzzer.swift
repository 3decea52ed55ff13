// libFuzzer target for the bearer-token parser: the compact-JWS split and base64url decoding, the JOSE header
// and the strict claims reader. Built by scripts/fuzz.sh from the real sources with `-sanitize=fuzzer,address`.
// Besides "no crash", it checks properties: a token that splits re-encodes to itself, and headers and claims
// the strict reader accepts are valid JSON for Foundation too.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzToken(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    if let claims = try? ClaimsParser.parse(bytes) {
        guard (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) is [String: Any] else {
            fatalError("ClaimsParser accepted what is not a JSON object")
        }
        _ = claims.roles
    }
    guard let token = String(validating: bytes, as: UTF8.self) else { return 0 }
    if let jws = CompactJWS(token) {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, Base64URL.encode(jws.payloadBytes) == segments[1],
            Base64URL.encode(jws.signature) == segments[2]
        else { fatalError("a split JWS does not re-encode to its segments") }
        let header = jws.headerBytes
        if (try? ClaimsParser.parseHeader(header)) != nil,
            !((try? JSONSerialization.jsonObject(with: Data(header), options: [.fragmentsAllowed])) is [String: Any])
        {
            fatalError("the header parser accepted what is not a JSON object")
        }
        _ = try? ClaimsParser.parse(jws.payloadBytes)
    }
    return 0
}
