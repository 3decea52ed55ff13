import Foundation
import Hummingbird
import NIOCore

/// Minimal server-rendered HTML for the mock's console and login pages: no scripts, plain forms.
enum HTML {
    /// Escapes text for element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// A full page with the mock's banner; `body` is trusted markup built with ``escape(_:)``.
    static func page(_ title: String, _ body: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Mock Zitadel</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font-family:system-ui,sans-serif;max-width:52rem;margin:1.5rem auto;padding:0 1rem;color:#1c2230}
            header{border-bottom:1px solid #ccd;margin-bottom:1rem;padding-bottom:.5rem}
            .banner{background:#fff4d6;border:1px solid #e8c66a;padding:.4rem .6rem;font-size:.85rem}
            section{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
            .error{background:#fde8e8;border:1px solid #e99;padding:.5rem}.ok{background:#e6f6ea;border:1px solid #8c8;padding:.5rem}
            code,pre{background:#f3f4f8;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}
            label{display:block;margin:.25rem 0}form.inline{display:inline}
            </style></head><body>
            <header><strong>Mock Zitadel</strong> <span class="banner">Offline development identity provider: every
            secret here is public and fake.</span></header>
            <h1>\(escape(title))</h1>
            \(body)
            </body></html>
            """
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A hidden form field.
    static func hidden(_ name: String, _ value: String?) -> String {
        guard let value else { return "" }
        return #"<input type="hidden" name="\#(escape(name))" value="\#(escape(value))">"#
    }

    /// A one-button form that posts an action with the page's CSRF token.
    static func actionButton(_ action: String, _ label: String, path: String, csrf: String, extra: [String: String] = [:]) -> String {
        let fields = extra.sorted { $0.key < $1.key }.map { hidden($0.key, $0.value) }.joined()
        return """
            <form class="inline" method="post" action="\(escape(path))">\(hidden("csrf", csrf))\(hidden("action", action))\(fields)\
            <button type="submit" id="\(escape(action))\(extra["id"].map { "-" + escape($0) } ?? "")">\(escape(label))</button></form>
            """
    }
}

/// Redirect responses for the pages.
enum Redirect {
    static func to(_ location: String, status: HTTPResponse.Status = .found, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers)
    }

    /// A same-origin path (not `//host`), else `nil`: return targets must never leave the mock.
    static func localPath(_ candidate: String?) -> String? {
        guard let candidate, candidate.hasPrefix("/"), !candidate.hasPrefix("//"), !candidate.contains("\\") else { return nil }
        return candidate
    }
}
