# One image for the bot and the workers (different commands: `k8snet bot`, `k8snet worker`).
# Node 24 runs the TypeScript sources directly (type stripping), so the image needs no build step.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# openssh-client for `ssh-keygen -F` style checks is not needed: ssh2 is pure JavaScript. tini reaps and forwards SIGTERM.
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# The node user (uid 1000) of the official image: no root in the container.
USER 1000:1000
EXPOSE 3000 9464
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/k8snet.js"]
CMD ["bot"]
