# Multi-stage build: compile TypeScript in a build image, run as a non-root user with only
# production dependencies. The spool is a volume so accepted mail survives the container.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# openssl: the init step's self-signed certificate
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/* \
 && groupadd --system mailbridge && useradd --system --gid mailbridge --home /var/spool/mailbridge mailbridge \
 && mkdir -p /var/spool/mailbridge /var/mail/mailbridge /etc/mailbridge/keys \
 && chown mailbridge:mailbridge /var/spool/mailbridge /var/mail/mailbridge /etc/mailbridge/keys
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY docs ./docs
COPY deploy/docker/init.sh /usr/local/bin/mailbridge-init
USER mailbridge
VOLUME ["/var/spool/mailbridge", "/var/mail/mailbridge"]
EXPOSE 25 587 10025 8443 9464
ENTRYPOINT ["node", "dist/cli/entry.cjs"]
CMD ["start", "-c", "/etc/mailbridge/mailbridge.yaml"]
