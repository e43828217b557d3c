# sam build runs `make build-ResolutionFunction` (template.yaml: Metadata.BuildMethod: makefile)
# with ARTIFACTS_DIR set: the same bundle as `npm run build:lambda`.
# The ECR targets wrap scripts/ecr.sh; pass PROFILE, REGION, ACCOUNT, TAG (nothing is committed):
#   make image PROFILE=my-sso-profile REGION=eu-west-1

.PHONY: build-ResolutionFunction build-lambda ecr-repo ecr-login image image-lambda

build-ResolutionFunction:
	npm run build:lambda
	cp -R dist/lambda/. "$(ARTIFACTS_DIR)/"

build-lambda:
	npm run build:lambda

ECR_ARGS = $(if $(PROFILE),--profile $(PROFILE)) $(if $(REGION),--region $(REGION)) $(if $(ACCOUNT),--account $(ACCOUNT)) $(if $(TAG),--tag $(TAG))

ecr-repo:
	scripts/ecr.sh create-repo $(ECR_ARGS)

ecr-login:
	scripts/ecr.sh login $(ECR_ARGS)

image:
	scripts/ecr.sh push $(ECR_ARGS)

image-lambda:
	scripts/ecr.sh push-lambda $(ECR_ARGS)
