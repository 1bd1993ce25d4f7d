"""Model-driven parsing of requests and serialization of responses.

Walks botocore's service models (`botocore/data/<service>/.../service-2.json`)
instead of hand-writing a format per action: one module per wire protocol
(EC2 query, JSON, REST-JSON). Knows shapes, not semantics.
"""
