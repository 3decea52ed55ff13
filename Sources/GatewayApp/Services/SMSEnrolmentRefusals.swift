import Foundation
import GatewayCore
import GatewayStore
import Logging
import Metrics

/// The refusals of the SMS workflow: each a problem in its own stable code.
extension SMSEnrolmentService {
    /// Why a failed enrolment is over, in its own code: superseded by a newer number, refused by Zitadel, or not
    /// sent (nothing reached the user).
    static func closedProblem(_ enrolment: SMSEnrolment) -> GatewayProblem {
        switch enrolment.failure ?? "" {
        case Self.superseded:
            GatewayProblem(
                .enrolmentSuperseded,
                "A newer number replaced this one on the account before it was verified; start a new enrolment to use it again.")
        case ProblemCode.invalidPhone.rawValue:
            GatewayProblem(.invalidPhone, "Zitadel did not accept this number. " + AustralianMobile.acceptedForms)
        case ProblemCode.providerRejected.rawValue:
            GatewayProblem(.providerRejected, "Zitadel refused this enrolment; start a new one with a new Idempotency-Key.")
        default:
            GatewayProblem(.enrolmentClosed, "This enrolment was not sent; start a new one with a new Idempotency-Key.")
        }
    }

    /// A 429 for the refusal, counted in `gateway_rate_limit_refusals_total{bucket}`.
    static func rateLimited(_ refusal: RateLimitRefusal, detail: String? = nil) -> GatewayProblem {
        Counter(label: "gateway_rate_limit_refusals_total", dimensions: [("bucket", refusal.rule.name)]).increment()
        var problem = GatewayProblem(
            .rateLimited, detail ?? "Too many SMS enrolment requests (\(refusal.rule.name) limit); retry later.",
            retryAfter: refusal.retryAfterSeconds)
        problem.rateLimit = refusal
        return problem
    }

    static func storeUnavailable(_ error: any Error, _ logger: Logger) -> GatewayProblem {
        if let problem = error as? GatewayProblem { return problem }
        logger.error("Store unavailable; refusing (fail closed)", metadata: ["error_type": "\(type(of: error))"])
        return GatewayProblem(.storeUnavailable, "The enrolment ledger is unavailable; nothing was sent. Retry shortly.", retryAfter: 2)
    }

    /// A failed enrolment, for its verification or resend: superseded says so, anything else is closed.
    static func finished(_ enrolment: SMSEnrolment) -> GatewayProblem {
        guard enrolment.failure == superseded else {
            return GatewayProblem(.enrolmentClosed, "This enrolment failed; start a new one.")
        }
        return closedProblem(enrolment)
    }

    static func busy() -> GatewayProblem {
        GatewayProblem(.requestInProgress, "An enrolment for this account is being sent; retry shortly.", retryAfter: 1)
    }

    static func conflict() -> GatewayProblem {
        GatewayProblem(.requestInProgress, "Another request changed this enrolment; retry.", retryAfter: 1)
    }
}
