import Testing

@testable import ProviderContract

/// The comparer's classification, on small hand-made shapes.
@Suite struct ShapeComparisonTests {
    func json(_ text: String) throws -> ContractJSON { try #require(ContractJSON.parse(Array(text.utf8))) }

    func shape(_ samples: [String], _ annotations: ShapeAnnotations = ShapeAnnotations()) throws -> ResponseShape {
        ResponseShape(samples: try samples.map(json), annotations: annotations, vocabularies: ["State": ["A", "B"]])
    }

    @Test func identicalAndSparserBodiesMatch() throws {
        let shape = try shape([#"{"id":"1","name":"x","tags":["a"]}"#, #"{"id":"2"}"#])
        #expect(shape.compare(try json(#"{"id":"3","tags":[]}"#)).isEmpty)
        #expect(shape.fields["id"]?.required == true)
        #expect(shape.fields["name"]?.required == false)
    }

    @Test func classifiesEveryKindOfDrift() throws {
        var annotations = ShapeAnnotations()
        annotations.int64 = ["seq"]
        annotations.enums = ["rows[].state": "State"]
        let shape = try shape([#"{"id":"1","seq":"4","rows":[{"state":"A","n":true}]}"#], annotations)
        let differences = shape.compare(try json(#"{"seq":4,"rows":[{"state":"C","n":"yes"}],"extra":{}}"#))
        #expect(differences.contains(ShapeDifference(.missingField, "id", "")))
        #expect(differences.contains { $0.kind == .typeChanged && $0.path == "seq" })
        #expect(differences.contains { $0.kind == .typeChanged && $0.path == "rows[].n" })
        #expect(differences.contains(ShapeDifference(.newEnumValue, "rows[].state", "C")))
        #expect(differences.contains(ShapeDifference(.newField, "extra", "object")))
        #expect(differences.filter(\.isBreak).count == 3)
        #expect(shape.compare(try json(#"{"id":"1","seq":"x4"}"#)).contains { $0.kind == .typeChanged && $0.path == "seq" })
    }

    @Test func mapsAndPatternedKeysHaveNoFixedMembers() throws {
        var annotations = ShapeAnnotations()
        annotations.maps = ["meta"]
        annotations.keyPatterns = ["urn:p:{id}:roles": "^urn:p:[0-9]+:roles$"]
        let shape = try shape([#"{"meta":{"a":"x"},"urn:p:1:roles":{}}"#], annotations)
        #expect(shape.compare(try json(#"{"meta":{"b":"y","c":"z"},"urn:p:22:roles":{}}"#)).isEmpty)
        #expect(shape.compare(try json(#"{"meta":{"b":1},"urn:p:22:roles":{}}"#)).first?.kind == .typeChanged)
    }

    @Test func reflectionReadsModelsLikeJSON() {
        struct Inner { var flag: Bool? }
        struct Outer { var name: String?, missing: String?, list: [Inner]?, count: Int }
        let value = ContractJSON(reflecting: Outer(name: "n", missing: nil, list: [Inner(flag: true), Inner(flag: nil)], count: 2))
        #expect(value.rendered == #"{"count":2,"list":[{"flag":true},{}],"name":"n"}"#)
    }
}
