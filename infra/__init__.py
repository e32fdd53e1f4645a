"""The CDK infrastructure of the IoT certificate audit: configuration, constructs by concern, the stack."""
