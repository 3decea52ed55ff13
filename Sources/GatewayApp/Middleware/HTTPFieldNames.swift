import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

extension HTTPField.Name {
    static let requestId = Self("X-Request-Id")!
    static let rateLimit = Self("RateLimit")!
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let tenant = Self("X-AiDial-Tenant")!
    static let idToken = Self("X-AiDial-ID-Token")!
    static let apiKey = Self("X-API-Key")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let secFetchMode = Self("Sec-Fetch-Mode")!
    static let secFetchDest = Self("Sec-Fetch-Dest")!
    static let secFetchUser = Self("Sec-Fetch-User")!
}
