locals {
  # One repository per service of .github/ferry.yml, named as its
  # `image-repository` ("{project}/<service>"). Add a service here when you add
  # its service-<name>.tf (terraform/check compares both with the manifest).
  ecr_services = ["sampleapi", "sampleworker"]

  # Repositories are account-wide: created by the workspace that manages
  # account resources, looked up by the other (data.tf).
  ecr_repositories = {
    for s in local.ecr_services : s => (
      var.manage_account_resources
      ? { arn = aws_ecr_repository.service[s].arn, url = aws_ecr_repository.service[s].repository_url }
      : { arn = data.aws_ecr_repository.service[s].arn, url = data.aws_ecr_repository.service[s].repository_url }
    )
  }
}

resource "aws_ecr_repository" "service" {
  #checkov:skip=CKV_AWS_136: AES-256 at rest is enough for images, which carry no secrets (those come from Secrets Manager at run time); a CMK would add a KMS call and key-policy grants to every pull for no gain.
  for_each = var.manage_account_resources ? toset(local.ecr_services) : toset([])

  name = "${var.project}/${each.key}"
  # A tag names one build forever: Ferry's tags are <service>-<sha7>-<time>,
  # and prod promotes exactly the digest staging ran.
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "service" {
  for_each = aws_ecr_repository.service

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged manifests (superseded layers, interrupted pushes) after 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last ${var.ecr_keep_images} release images"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["${each.key}-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# The layer cache of `ferry build` on a docker-container or remote buildx
# builder: `<repository>-buildcache:buildcache`, moved on every build, so it
# lives beside the IMMUTABLE image repository rather than in it. Without it
# the build still runs, uncached (Ferry exports the cache with
# ignore-error=true). Holds layers only, never a deployed image.
resource "aws_ecr_repository" "build_cache" {
  #checkov:skip=CKV_AWS_51: the cache tag must move with every build; images are deployed only from the IMMUTABLE repository above, by digest.
  #checkov:skip=CKV_AWS_136: AES-256 at rest, as for the image repositories (no secrets in build layers).
  for_each = var.manage_account_resources ? toset(local.ecr_services) : toset([])

  name                 = "${var.project}/${each.key}-buildcache"
  image_tag_mutability = "MUTABLE"
  force_delete         = true

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "build_cache" {
  for_each = aws_ecr_repository.build_cache

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Superseded cache manifests after 1 day"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 1
        }
        action = { type = "expire" }
      },
    ]
  })
}
